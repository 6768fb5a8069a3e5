"""Market episodes a worker plays per second, and what each decision costs compared with /decide.

    .venv/bin/python tests/bench/bench_episodes.py [--episodes 10] [--rounds 100]
    .venv/bin/python tests/bench/bench_episodes.py --workers 2 --episodes 30 [--regimes ...]

With --workers N the runs are played by a real Celery worker with N pool processes (queue
`episodes`, through the bench's own broker keys), as an experiment's runs are, and the regimes
cycle over --regimes (default: ungoverned, constitutional, institutional): wall time, episodes/s
and CPU per decision of the worker processes plus their PostgreSQL backends.

Creates a fresh bench database (warden_bench_episodes) and plays, in this one process as one Celery
worker process would (`run_execute`), Cournot runs of 2 firms (cartel and tit-for-tat) for 100
rounds under the institutional regime: every call decided by the decision service and stored
(decision, step, guard, log outbox), every round committed with its checkpoint, the Oracle and the
Controller after each round. Reports episodes per second (wall, and per CPU-second of this process
plus its PostgreSQL backend), then the CPU per decision: inside runs (everything a run does, divided
by its decisions), and the decision service alone in this process, next to the README's /decide
figures over HTTP.
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from tests.bench.live import ROOT, bench_env, cpu_since, empty_broker, process_cpu, recreate_database  # noqa: E402

DB = os.environ.get("WARDEN_BENCH_DB", "warden_bench_episodes")
# /decide over HTTP at 200 req/s (README, Performance): web CPU + PostgreSQL CPU per decision, ms.
DECIDE_HTTP_MS = (2.2 + 2.5) / 2 + (1.0 + 1.1) / 2


def setup_django() -> None:
    env = bench_env(DB)
    recreate_database(env)
    empty_broker(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="apps.settings",
                      CELERY_BROKER_URL=env["CELERY_BROKER_URL"], WARDEN_BROKER_KEYPREFIX=env["WARDEN_BROKER_KEYPREFIX"])
    import django

    django.setup()


def spec(i: int, rounds: int, regime: str = "institutional") -> dict:
    return {"id": f"bench-{i}", "environment": {"kind": "cournot", "rounds": rounds, "costs": 10},
            "agents": [{"name": "f1", "kind": "cartel"}, {"name": "f2", "kind": "tit_for_tat"}],
            "regime": regime, "seed": i}


def with_workers(args) -> None:
    """The runs played by a real Celery worker with `args.workers` pool processes."""
    from apps.episodes import services
    from apps.episodes.models import Run
    from apps.policies.models import Decision
    from apps.tenancy.models import Project

    env = bench_env(DB)
    name = f"bench-episodes-{os.getpid()}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "episodes", "-c",
         str(args.workers), "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"{name}@%h"],
        cwd=ROOT, env=env)
    try:
        project = Project.objects.create(slug="bench", name="Bench")
        regimes = args.regimes.split(",")
        # Warm-up: one short run per regime publishes the example policy and graph in the project.
        warm = [services.run_create(project=project, data={**spec(10_000 + i, 5), "regime": r}, actor="bench")[0]
                for i, r in enumerate(regimes)]
        while Run.objects.filter(pk__in=[r.pk for r in warm], status__in=("queued", "running")).exists():
            time.sleep(0.2)
        from django.db import connection
        connection.ensure_connection()
        backend = f"{DB} "
        decisions_before = Decision.objects.count()
        cpu_before, pg_before = process_cpu("celery", name), process_cpu("postgres:", backend)
        t = time.perf_counter()
        runs = [services.run_create(project=project, data={**spec(i, args.rounds), "regime": regimes[i % len(regimes)]},
                                    actor="bench")[0] for i in range(args.episodes)]
        while Run.objects.filter(pk__in=[r.pk for r in runs], status__in=("queued", "running")).exists():
            time.sleep(0.2)
        wall = time.perf_counter() - t
        cpu, pg = cpu_since(cpu_before, "celery", name), cpu_since(pg_before, "postgres:", backend)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    statuses = list(Run.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", flat=True))
    assert statuses == ["completed"] * len(runs), list(Run.objects.filter(pk__in=[r.pk for r in runs]).values_list(
        "status", "error"))
    decisions = Decision.objects.count() - decisions_before
    print(f"runs: {len(runs)} Cournot episodes ({', '.join(regimes)}; 2 firms, {args.rounds} rounds), "
          f"{decisions} decisions, played by one Celery worker with {args.workers} pool processes")
    print(f"throughput: {len(runs) / wall:.2f} episodes/s, {wall:.1f} s wall")
    print(f"per decision: {(cpu + pg) / decisions * 1e3:.2f} ms CPU (workers {cpu / decisions * 1e3:.2f} + "
          f"PostgreSQL {pg / decisions * 1e3:.2f}); per episode {(cpu + pg) / len(runs) * 1e3:.0f} ms CPU")
    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=2000, help="decision-service-alone sample")
    parser.add_argument("--workers", type=int, default=0, help="pool processes of a real Celery worker (0: in process)")
    parser.add_argument("--regimes", default="ungoverned,constitutional,institutional", help="with --workers")
    parser.add_argument("--regime", default="institutional", help="in process: the runs' regime")
    args = parser.parse_args()
    setup_django()
    if args.workers:
        with_workers(args)
        return

    from django.db import connection

    from apps.episodes import services
    from apps.episodes.models import Run
    from apps.policies.decisions import DecideInput, decision_make
    from apps.policies.models import Decision
    from apps.tenancy.models import Project
    from apps.traces.models import Step

    project = Project.objects.create(slug="bench", name="Bench")
    # Warm-up: the first run publishes the example policy and graph and fills the caches.
    for n, regime in enumerate(dict.fromkeys([args.regime, "institutional"])):
        warm, _ = services.run_create(project=project, data=spec(10_000 + n, 5, regime), actor="bench")
        services.run_execute(run_id=warm.id, worker="bench")
    connection.ensure_connection()
    backend = f"{DB} "  # PostgreSQL backends show the database name in their command line

    runs = [services.run_create(project=project, data=spec(i, args.rounds, args.regime), actor="bench")[0]
            for i in range(args.episodes)]
    decisions_before = Decision.objects.count()
    steps_before = Step.objects.count()
    pg_before = process_cpu("postgres:", backend)
    t, c = time.perf_counter(), time.process_time()
    for run in runs:
        services.run_execute(run_id=run.id, worker="bench")
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    pg = cpu_since(pg_before, "postgres:", backend)
    done = Run.objects.filter(pk__in=[r.pk for r in runs], status="completed").count()
    decisions = Decision.objects.count() - decisions_before
    steps = Step.objects.count() - steps_before
    assert done == len(runs), [r.error for r in Run.objects.filter(pk__in=[r.pk for r in runs])]
    print(f"runs: {done} {args.regime} Cournot episodes (2 firms, {args.rounds} rounds), {decisions} decisions, "
          f"{steps} steps stored")
    print(f"throughput: {done / wall:.2f} episodes/s wall in one worker process; "
          f"{done / (cpu + pg):.2f} episodes/s per CPU-second (worker {cpu / done * 1e3:.0f} ms + "
          f"PostgreSQL {pg / done * 1e3:.0f} ms per episode)")
    per_decision = (cpu + pg) / decisions * 1e3
    print(f"per decision inside runs (all a run does / its decisions): {per_decision:.2f} ms CPU "
          f"(worker {cpu / decisions * 1e3:.2f} + PostgreSQL {pg / decisions * 1e3:.2f})")

    # The decision service alone, in process, as the worker's gate calls it (one transaction per
    # 100 decisions, as a run commits per round), against an episode of its own.
    from django.db import transaction

    from apps.policies.models import Policy
    from apps.policies.services import binding_set

    binding_set(project=project, policy=Policy.objects.get(project=project, name="cournot-least-privilege"),
                agent="f1@bench", actor="bench")
    pg_before = process_cpu("postgres:", backend)
    c = time.process_time()
    for start in range(0, args.decisions, 100):
        with transaction.atomic():
            for i in range(start, min(start + 100, args.decisions)):
                decision_make(project=project, data=DecideInput(
                    episode="bench-service", agent="f1@bench", tool="set_quantity",
                    arguments={"market": "market", "quantity": 20 + i % 10}, environment="cournot"), actor="bench")
    service_cpu, service_pg = time.process_time() - c, cpu_since(pg_before, "postgres:", backend)
    alone = (service_cpu + service_pg) / args.decisions * 1e3
    print(f"decision service alone, in process: {alone:.2f} ms CPU per decision (worker "
          f"{service_cpu / args.decisions * 1e3:.2f} + PostgreSQL {service_pg / args.decisions * 1e3:.2f}); "
          f"/decide over HTTP: about {DECIDE_HTTP_MS:.1f} ms (README: web 2.2-2.5 + PostgreSQL 1.0-1.1)")
    print(f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
