import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.checkpoints import CheckpointError, checkpoint_verify
from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush_all
from apps.audit.verification import governance_verify
from apps.tenancy.models import Project


class Command(BaseCommand):
    help = "Walks each project's governance log chain and reports the first broken or missing entry."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="project slug (default: every project with a log)")
        parser.add_argument("--checkpoint", metavar="FILE",
                            help="a checkpoint exported earlier (governance_checkpoint_export): the log must still hold its head")

    def handle(self, *args, project=None, checkpoint=None, **options):
        if checkpoint:
            return self.against_checkpoint(project, Path(checkpoint))
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

    def against_checkpoint(self, slug: str | None, path: Path) -> None:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the checkpoint {path}: {exc}") from exc
        slug = slug or (document.get("project") if isinstance(document, dict) else None)
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"no project {slug!r}")
        try:
            report = checkpoint_verify(project=project, document=document)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(report))
        if not report.ok:
            raise CommandError("the governance log does not hold the exported checkpoint")
