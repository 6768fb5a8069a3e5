from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush_all
from apps.audit.verification import governance_verify
from apps.tenancy.models import Project


class Command(BaseCommand):
    help = "Walks each project's governance log chain and reports the first broken or missing entry."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="project slug (default: every project with a log)")

    def handle(self, *args, project=None, **options):
        if project:
            projects = list(Project.objects.filter(slug=project))
            if not projects:
                raise CommandError(f"no project {project!r}")
        else:
            governance_log_flush_all()  # a project whose only events wait in the outbox has a log too
            ids = GovernanceLogEntry.objects.values_list("project_id", flat=True).distinct()
            projects = list(Project.objects.filter(id__in=ids).order_by("slug"))
        broken = 0
        for p in projects:
            report = governance_verify(project=p)
            self.stdout.write(str(report))
            broken += not report.ok
        if broken:
            raise CommandError(f"{broken} governance log(s) failed verification")
