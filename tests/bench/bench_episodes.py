"""Market episodes a worker plays per second, and what each decision costs compared with /decide.

    .venv/bin/python tests/bench/bench_episodes.py [--episodes 10] [--rounds 100]

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
                      CELERY_BROKER_URL=env["CELERY_BROKER_URL"])
    import django

    django.setup()


def spec(i: int, rounds: int) -> dict:
    return {"id": f"bench-{i}", "environment": {"kind": "cournot", "rounds": rounds, "costs": 10},
            "agents": [{"name": "f1", "kind": "cartel"}, {"name": "f2", "kind": "tit_for_tat"}],
            "regime": "institutional", "seed": i}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=2000, help="decision-service-alone sample")
    args = parser.parse_args()
    setup_django()

    from django.db import connection

    from apps.episodes import services
    from apps.episodes.models import Run
    from apps.policies.decisions import DecideInput, decision_make
    from apps.policies.models import Decision
    from apps.tenancy.models import Project
    from apps.traces.models import Step

    project = Project.objects.create(slug="bench", name="Bench")
    # Warm-up: the first run publishes the example policy and graph and fills the caches.
    warm, _ = services.run_create(project=project, data=spec(10_000, 5), actor="bench")
    services.run_execute(run_id=warm.id, worker="bench")
    connection.ensure_connection()
    backend = f"{DB} "  # PostgreSQL backends show the database name in their command line

    runs = [services.run_create(project=project, data=spec(i, args.rounds), actor="bench")[0]
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
    print(f"runs: {done} institutional Cournot episodes (2 firms, {args.rounds} rounds), {decisions} decisions, "
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
