import sys

from django.core.management.base import BaseCommand, CommandError

from apps.tenancy.models import Project
from apps.traces import jsonl, schema, selectors


class Command(BaseCommand):
    help = "Writes a project's episodes (filtered like the API list) as JSON Lines to stdout or --output."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")
        parser.add_argument("--episode", help="only this external id")
        for name in selectors.FILTERS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name)

    def handle(self, *args, project, output=None, episode=None, **options):
        proj = Project.objects.filter(slug=project).first()
        if proj is None:
            raise CommandError(f"No project '{project}'.")
        try:
            filters = selectors.episode_filters_parse({k: options.get(k) for k in selectors.FILTERS})
        except schema.InvalidInput as exc:
            raise CommandError(str(exc)) from None
        episodes = selectors.episode_list(project=proj, filters=filters)
        if episode:
            episodes = episodes.filter(external_id=episode)
        out = open(output, "w", encoding="utf-8") if output else sys.stdout
        try:
            for line in jsonl.export_lines(episodes.iterator(chunk_size=100)):
                out.write(line)
        finally:
            if output:
                out.close()
