import sys

from django.core.management.base import BaseCommand, CommandError

from apps.tenancy.models import Project
from apps.traces import jsonl, schema, services


class Command(BaseCommand):
    help = "Imports JSON Lines written by traces_export into a project (all-or-nothing, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("input", nargs="?", help="file to read (default: stdin)")

    def handle(self, *args, project, input=None, **options):
        proj = Project.objects.filter(slug=project).first()
        if proj is None:
            raise CommandError(f"No project '{project}'.")
        source = open(input, encoding="utf-8") if input else sys.stdin
        try:
            counts = jsonl.traces_import(project=proj, lines=source)
        except schema.InvalidInput as exc:
            raise CommandError(str(exc)) from None
        except services.StepConflict as exc:
            raise CommandError(f"{exc}; nothing was imported") from None
        finally:
            if input:
                source.close()
        self.stdout.write(f"imported {counts['episodes']} episodes, {counts['steps']} steps")
