"""Re-checks episodes against the active contracts, in this process.

    manage.py contracts_check --project acme --episode ep-42
    manage.py contracts_check --missing          # ended episodes lacking a verdict for a current version
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from apps.contracts.selectors import versions_active
from apps.contracts.services import episode_check
from apps.tenancy.models import Project
from apps.traces.models import Episode, EpisodeStatus


class Command(BaseCommand):
    help = "Check episodes against the active contracts (all ended ones, one, or only those missing verdicts)."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="project slug (default: every project)")
        parser.add_argument("--episode", help="one episode's external id (needs --project)")
        parser.add_argument("--missing", action="store_true", help="only ended episodes without a current verdict")
        parser.add_argument("--limit", type=int, default=0, help="at most this many episodes per project")

    def handle(self, *args, project=None, episode=None, missing=False, limit=0, **options):
        projects = Project.objects.all()
        if project:
            projects = projects.filter(slug=project)
            if not projects.exists():
                raise CommandError(f"no project '{project}'")
        elif episode:
            raise CommandError("--episode needs --project")
        checked = failed = 0
        for p in projects:
            versions = versions_active(project=p)
            if not versions:
                continue
            qs = Episode.objects.filter(project=p).exclude(status=EpisodeStatus.RUNNING).order_by("-started_at")
            if episode:
                qs = Episode.objects.filter(project=p, external_id=episode)
            if missing:
                qs = qs.annotate(current=Count("verdicts", filter=Q(verdicts__version__in=versions))).filter(
                    current__lt=len(versions))
            if limit:
                qs = qs[:limit]
            for e in qs:
                rows = episode_check(episode=e, versions=versions)
                checked += 1
                failed += any(r.status == "fail" for r in rows)
        self.stdout.write(f"checked {checked} episodes, {failed} with failed verdicts")
