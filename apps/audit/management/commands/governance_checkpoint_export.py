import json

from django.core.management.base import BaseCommand, CommandError

from apps.audit.checkpoints import checkpoint_export
from apps.tenancy.models import Project


class Command(BaseCommand):
    help = ("Prints the project's governance-log head as a signed checkpoint (JSON). Keep it outside "
            "Warden; `governance_verify --checkpoint FILE` or warden_verify.py --checkpoint-file later "
            "fail if any entry up to it was rewritten.")

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")

    def handle(self, *args, project: str, **options):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"no project {project!r}")
        self.stdout.write(json.dumps(checkpoint_export(project=found), sort_keys=True))
