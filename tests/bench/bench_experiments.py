"""Wall time and episodes per second of the Cournot reproduction on two Celery worker processes.

    .venv/bin/python tests/bench/bench_experiments.py [--seeds 3] [--rounds 100] [--spec FILE] [--workers 2]
    .venv/bin/python tests/bench/bench_experiments.py --seeds 30     # the full one: 3 regimes x 30 seeds

Creates a fresh bench database (warden_bench_experiments), starts `--workers` Celery worker
processes (one pool process each, queues default, checks and episodes as `make run`'s worker), and
creates the experiment from examples/experiments/cournot-institutional-ai.yaml (or --spec) with
`seeds` and `rounds` overridden: 3 regimes x N seeds, every run's decisions, steps and governance
rounds stored as in production. Times from creation to the experiment's last counted trial, then
prints episodes/s, what was stored, and the result table. Set WARDEN_BENCH_BROKER to a Redis
database of your own when others use the default one (it is emptied at start).
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402

from tests.bench.live import ROOT, bench_env, empty_broker, recreate_database  # noqa: E402

DB = os.environ.get("WARDEN_BENCH_DB", "warden_bench_experiments")
SPEC = ROOT / "examples" / "experiments" / "cournot-institutional-ai.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spec", type=pathlib.Path, default=SPEC)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    env = bench_env(DB)
    recreate_database(env)
    empty_broker(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="apps.settings",
                      CELERY_BROKER_URL=env["CELERY_BROKER_URL"])
    import django

    django.setup()
    from apps.experiments import selectors, services
    from apps.experiments.models import Experiment
    from apps.experiments.table import result_lines
    from apps.policies.models import Decision
    from apps.tenancy.models import Project
    from apps.traces.models import Step

    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "default,checks,episodes",
         "-c", "1", "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"bench-{i}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(args.workers)]
    try:
        time.sleep(8)  # the workers import Django and connect before the clock starts
        spec = yaml.safe_load(args.spec.read_text())
        spec["seeds"] = args.seeds
        spec["run"]["rounds"] = args.rounds
        project = Project.objects.create(slug="bench", name="Bench")
        started = time.perf_counter()
        experiment = services.experiment_create(project=project, source=spec, actor="bench")
        last = None
        while time.perf_counter() - started < args.timeout:
            experiment.refresh_from_db()
            if experiment.finished != last:
                last = experiment.finished
                print(f"  {time.perf_counter() - started:6.1f} s  {experiment.finished}/{experiment.total}", flush=True)
            if experiment.finished_at is not None:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        experiment = Experiment.objects.get(pk=experiment.pk)
        decisions, steps = Decision.objects.count(), Step.objects.count()
        print(f"experiment: {args.spec.name}, {len(spec['matrix']['regime'])} regimes x {args.seeds} seeds x "
              f"{args.rounds} rounds = {experiment.total} runs: {experiment.status}, {experiment.done} done, "
              f"{experiment.failed} failed")
        print(f"wall: {wall:.1f} s on {args.workers} worker processes; {experiment.done / wall:.2f} episodes/s; "
              f"{decisions} decisions and {steps} steps stored")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for line in result_lines(selectors.experiment_results(experiment=experiment), metrics=spec.get("charts")):
            print(line)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
