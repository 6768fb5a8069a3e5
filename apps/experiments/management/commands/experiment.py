"""manage.py experiment run SPEC.yaml --project acme [--wait | --here] | rerun ID | show ID | cancel ID | retry ID."""

import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.experiments import selectors, services
from apps.experiments.models import Experiment
from apps.experiments.table import result_lines


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)


class Command(BaseCommand):
    help = ("Experiments from YAML specs: `run FILE` queues one for the workers (--wait follows it and prints "
            "the result table, --here plays it in this process), `rerun ID` repeats one from its stored spec, "
            "`show ID` prints progress and results, `cancel ID`, `retry ID`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="create an experiment from a spec file")
        run.add_argument("spec", type=Path)
        run.add_argument("--project", required=True, help="project slug")
        run.add_argument("--contract", type=Path, action="append", default=[],
                         help="a contract file to publish (enabled) in the project first, so every run is "
                              "checked by it; repeatable")
        rerun = sub.add_parser("rerun", help="a new experiment from a stored one's spec")
        rerun.add_argument("id", type=int)
        for p in (run, rerun):
            mode = p.add_mutually_exclusive_group()
            mode.add_argument("--wait", action="store_true", help="follow the workers to the end, then print results")
            mode.add_argument("--here", action="store_true", help="play every run in this process")
            p.add_argument("--timeout", type=float, default=24 * 3600, help="seconds --wait waits")
        for name in ("show", "cancel", "retry"):
            sub.add_parser(name).add_argument("id", type=int)

    def handle(self, *args, **options):
        action = options["action"]
        if action == "run":
            experiment = self._create(options)
        else:
            experiment = Experiment.objects.select_related("project").filter(pk=options["id"]).first()
            if experiment is None:
                raise CommandError(f"no experiment {options['id']}")
            try:
                if action == "rerun":
                    experiment = services.experiment_rerun(experiment=experiment, actor="manage.py")
                elif action == "cancel":
                    experiment = services.experiment_cancel(experiment=experiment, actor="manage.py")
                elif action == "retry":
                    count = services.experiment_retry(experiment=experiment, actor="manage.py")
                    self.stdout.write(f"{count} trials queued again")
            except ValidationError as exc:
                raise CommandError(_errors(exc)) from None
        if action in ("run", "rerun"):
            self.stdout.write(f"experiment {experiment.pk} {experiment.name}: {experiment.total} runs "
                              f"({len(experiment.conditions.all())} conditions), code {experiment.code_version}")
            if options["here"]:
                services.experiment_play_here(experiment_id=experiment.pk, worker="manage.py")
            elif options["wait"]:
                self._follow(experiment, options["timeout"])
            else:
                return
        experiment.refresh_from_db()
        self._show(experiment)

    def _create(self, options) -> Experiment:
        from apps.tenancy.models import Project

        project = Project.objects.filter(slug=options["project"]).first()
        if project is None:
            raise CommandError(f"no project '{options['project']}'")
        try:
            source = options["spec"].read_text()
        except OSError as exc:
            raise CommandError(f"spec: {exc}") from None
        for path in options["contract"]:
            self._publish_contract(project, path)
        try:
            return services.experiment_create(project=project, source=source, actor="manage.py")
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from None

    def _publish_contract(self, project, path: Path) -> None:
        from apps.contracts.services import contract_publish

        try:
            source = path.read_text()
        except OSError as exc:
            raise CommandError(f"contract: {exc}") from None
        try:
            version, created = contract_publish(project=project, source=source, actor="manage.py")
        except ValidationError as exc:
            raise CommandError(f"{path}: {_errors(exc)}") from None
        state = "published" if created else "already published"
        self.stdout.write(f"contract {version.contract.name} v{version.number} {state}")

    def _follow(self, experiment: Experiment, timeout: float) -> None:
        deadline, last, started = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            experiment.refresh_from_db()
            now = (experiment.status, experiment.done, experiment.failed, experiment.cancelled)
            if now != last:
                last = now
                eta = experiment.eta_seconds
                self.stdout.write(f"  {experiment.status} {experiment.finished}/{experiment.total} "
                                  f"(done {experiment.done}, failed {experiment.failed}) "
                                  f"{time.monotonic() - started:.0f} s" + (f", about {eta:.0f} s left" if eta else ""))
            if experiment.finished_at is not None:
                return
            time.sleep(1.0)
        raise CommandError(f"experiment {experiment.pk} did not finish within {timeout:.0f} s (it goes on)")

    def _show(self, experiment: Experiment) -> None:
        self.stdout.write(f"experiment {experiment.pk} {experiment.name} {experiment.status}: done {experiment.done}, "
                          f"failed {experiment.failed}, cancelled {experiment.cancelled} of {experiment.total}")
        chosen = experiment.spec.get("charts") if isinstance(experiment.spec.get("charts"), list) else None
        for line in result_lines(selectors.experiment_results(experiment=experiment), metrics=chosen):
            self.stdout.write(line)
