"""Wall time and episodes per second of the Cournot reproduction on two Celery worker processes.

    .venv/bin/python tests/bench/bench_experiments.py [--seeds 3] [--rounds 100] [--spec FILE] [--workers 2]
    .venv/bin/python tests/bench/bench_experiments.py --seeds 30     # the full one: 3 regimes x 30 seeds

Creates a fresh bench database (warden_bench_experiments), starts `--workers` Celery worker
processes (one pool process each, queues default, checks and episodes as `make run`'s worker), and
creates the experiment from examples/experiments/cournot-institutional-ai.yaml (or --spec) with
`seeds` and `rounds` overridden: 3 regimes x N seeds, every run's decisions, steps and governance
rounds stored as in production. Times from creation to the experiment's last counted trial, then
prints the wall time, episodes/s, CPU per decision (the worker processes and their PostgreSQL
backends, sampled while the experiment runs, so a backend that ends between samples loses at most
its last half second), whether the issue's target (3 regimes x 30 seeds x 100 rounds in under two
minutes) was met, what was stored, and the result table. It asserts no timing: on a shared machine
the wall time says what the machine allowed, the CPU per decision what the code costs. Set
WARDEN_BENCH_BROKER to a Redis database of your own when others use the default one (only the
bench's own keys there are emptied at start).
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import yaml  # noqa: E402

from tests.bench.live import ROOT, bench_env, empty_broker, process_cpu, recreate_database  # noqa: E402

DB = os.environ.get("WARDEN_BENCH_DB", "warden_bench_experiments")
SPEC = ROOT / "examples" / "experiments" / "cournot-institutional-ai.yaml"
TARGET_SECONDS, TARGET_SEEDS, TARGET_ROUNDS = 120, 30, 100  # issue 14: 3 regimes x 30 seeds x 100 rounds, 2 workers


class CpuMeter:
    """CPU seconds of the processes whose command line holds every needle, summed per process over
    its life since the meter started (a process that ended keeps what its last sample saw)."""

    def __init__(self, *needles: str):
        self.needles = needles
        self.start = process_cpu(*needles)
        self.seen: dict[str, float] = dict(self.start)

    def sample(self) -> None:
        self.seen.update(process_cpu(*self.needles))

    def seconds(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.seen.items())


def target_verdict(*, wall: float, seeds: int, rounds: int, regimes: int, workers: int, done: int, total: int) -> str:
    full = seeds >= TARGET_SEEDS and rounds == TARGET_ROUNDS and regimes >= 3 and workers == 2
    if not full:
        return (f"not measured (the target is {regimes if regimes >= 3 else 3} regimes x {TARGET_SEEDS} seeds x "
                f"{TARGET_ROUNDS} rounds on 2 workers: --seeds {TARGET_SEEDS} --rounds {TARGET_ROUNDS} --workers 2)")
    if done < total:
        return f"not met ({total - done} of {total} runs did not finish done)"
    return (f"{'met' if wall < TARGET_SECONDS else 'not met'} ({wall:.1f} s against {TARGET_SECONDS} s; "
            f"a wall time, so only on an otherwise idle machine does it say what the code does)")


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
    # The broker key prefix too: the tasks this process publishes (the experiment's first advance)
    # must reach the workers' queues.
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="apps.settings",
                      CELERY_BROKER_URL=env["CELERY_BROKER_URL"], WARDEN_BROKER_KEYPREFIX=env["WARDEN_BROKER_KEYPREFIX"])
    import django

    django.setup()
    from apps.experiments import selectors, services
    from apps.experiments.models import Experiment
    from apps.experiments.table import result_lines
    from apps.policies.models import Decision
    from apps.tenancy.models import Project
    from apps.traces.models import Step

    name = f"bench-experiments-{os.getpid()}"
    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "default,checks,episodes",
         "-c", "1", "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"{name}-{i}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(args.workers)]
    try:
        time.sleep(8)  # the workers import Django and connect before the clock starts
        spec = yaml.safe_load(args.spec.read_text())
        spec["seeds"] = args.seeds
        spec["run"]["rounds"] = args.rounds
        project = Project.objects.create(slug="bench", name="Bench")
        from django.db import connection

        connection.ensure_connection()
        meters = [CpuMeter("celery", name), CpuMeter("postgres:", f"{DB} ")]
        started = time.perf_counter()
        experiment = services.experiment_create(project=project, source=spec, actor="bench")
        last = None
        while time.perf_counter() - started < args.timeout:
            experiment.refresh_from_db()
            if experiment.finished != last:
                last = experiment.finished
                print(f"  {time.perf_counter() - started:6.1f} s  {experiment.finished}/{experiment.total}", flush=True)
            for meter in meters:
                meter.sample()
            if experiment.finished_at is not None:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        for meter in meters:
            meter.sample()
        worker_cpu, pg_cpu = (meter.seconds() for meter in meters)
        experiment = Experiment.objects.get(pk=experiment.pk)
        decisions, steps = Decision.objects.count(), Step.objects.count()
        print(f"experiment: {args.spec.name}, {len(spec['matrix']['regime'])} regimes x {args.seeds} seeds x "
              f"{args.rounds} rounds = {experiment.total} runs: {experiment.status}, {experiment.done} done, "
              f"{experiment.failed} failed")
        print(f"wall: {wall:.1f} s on {args.workers} worker processes; {experiment.done / wall:.2f} episodes/s; "
              f"{decisions} decisions and {steps} steps stored")
        cpu = worker_cpu + pg_cpu
        print(f"CPU: {cpu:.1f} s (workers {worker_cpu:.1f} + PostgreSQL {pg_cpu:.1f}), "
              f"{cpu / max(decisions, 1) * 1e3:.2f} ms per decision, {cpu / max(experiment.finished, 1):.2f} s per episode; "
              f"the target's budget is {args.workers * TARGET_SECONDS} CPU-seconds on {args.workers} cores")
        print("target: " + target_verdict(wall=wall, seeds=args.seeds, rounds=args.rounds,
                                           regimes=len(spec["matrix"]["regime"]), workers=args.workers,
                                           done=experiment.done, total=experiment.total))
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
