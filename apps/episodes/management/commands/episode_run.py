"""manage.py episode_run SPEC.yaml --project acme [--wait | --here]: start a run from a spec file."""

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.episodes import selectors, services
from apps.episodes.spec import SpecError, spec_parse
from apps.tenancy.models import Project


class Command(BaseCommand):
    help = "Queue a run from a YAML or JSON spec; --wait follows it to the end, --here plays it in this process."

    def add_arguments(self, parser):
        parser.add_argument("spec", type=Path)
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--id", help="run id (idempotency key); the spec's `id` wins")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--wait", action="store_true", help="wait for a worker to finish the run")
        mode.add_argument("--here", action="store_true", help="play the run in this process instead of a worker")
        parser.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits")

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project '{options['project']}'")
        try:
            data = spec_parse(options["spec"].read_text())
            run, created = services.run_create(project=project, data=data, actor="manage.py", key=options["id"])
        except OSError as exc:
            raise CommandError(f"spec: {exc}") from None
        except SpecError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)) from None
        except services.RunConflict as exc:
            raise CommandError(f"id: {exc}") from None
        self.stdout.write(f"run {run.key} {'queued' if created else 'exists'} ({run.status})")
        if options["here"]:
            services.run_execute(run_id=run.id, worker="manage.py")
        elif options["wait"]:
            self._follow(project, run.key, options["timeout"])
        else:
            return
        run = selectors.run_get(project=project, key=run.key)
        self.stdout.write(f"run {run.key} {run.status}: {run.rounds_done}/{run.rounds_total} rounds"
                          + (f", episode {run.episode.external_id}" if run.episode else ""))
        if run.error:
            self.stdout.write(f"error: {run.error}")
        if run.status != "completed":
            raise CommandError(f"run {run.key} ended {run.status}")

    def _follow(self, project, key: str, timeout: float) -> None:
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            run = selectors.run_get(project=project, key=key)
            if (run.status, run.rounds_done) != last:
                last = (run.status, run.rounds_done)
                self.stdout.write(f"  {run.status} {run.rounds_done}/{run.rounds_total}")
            if not run.is_active:
                return
            time.sleep(0.5)
        raise CommandError(f"run {key} did not finish within {timeout:.0f} s (it goes on in the worker)")
