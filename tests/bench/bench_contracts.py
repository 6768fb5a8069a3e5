"""Contract checking throughput: 20 contracts over stored episodes, steps checked per second per process.

    .venv/bin/python tests/bench/bench_contracts.py [--episodes 300] [--steps 100]

Creates a fresh bench database (warden_bench_contracts), publishes 20 contracts covering every
operator, stores episodes through the trace services, then measures in this one process:
  1. engine: all 20 contracts over the stored steps already in memory (one pass per episode);
  2. service: `episode_check` per episode (read steps from PostgreSQL, check, store verdicts and
     violations), i.e. what one Celery worker process does per ended episode;
  3. linearity: engine cost per step for one episode of 100, 1,000 and 10,000 steps.
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from tests.bench.live import ROOT, bench_env, recreate_database  # noqa: E402

TARGET = 20_000


def setup_django() -> None:
    env = bench_env(os.environ.get("WARDEN_BENCH_DB", "warden_bench_contracts"))
    recreate_database(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="apps.settings")
    import django

    django.setup()
    # Seeding must not enqueue checks: this process does the checking itself, on purpose.
    from apps.traces import signals

    signals.steps_appended.disconnect(dispatch_uid="contracts.runtime")
    signals.episode_ended.disconnect(dispatch_uid="contracts.check")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    setup_django()

    from apps.contracts import engine, services
    from apps.contracts.models import Verdict
    from apps.reviews.models import Violation
    from apps.tenancy.models import Project
    from apps.traces import services as traces
    from apps.traces.models import Episode
    from tests.contracts.contract_set import CONTRACTS, episode_steps

    project = Project.objects.create(slug="bench", name="Bench")
    versions = [services.contract_publish(project=project, source=s, actor="bench")[0] for s in CONTRACTS]
    print(f"contracts: {len(versions)} ({', '.join(sorted({o for v in versions for o in [services.compiled(v).rules[0].operator]}))})")

    rng = random.Random(7)
    t0 = time.perf_counter()
    total_steps = 0
    for i in range(args.episodes):
        episode, _ = traces.episode_upsert(project=project, external_id=f"bench-{i}")
        trace = episode_steps(rng, args.steps, inject=(i % 10 == 0))
        traces.steps_append_batch(episode=episode, steps=[{k: v for k, v in s.items()} for s in trace])
        total_steps += len(trace)
    Episode.objects.filter(project=project).update(status="completed")
    print(f"stored: {args.episodes} episodes, {total_steps} steps in {time.perf_counter() - t0:.1f}s")

    compiled = [services.compiled(v) for v in versions]
    episodes = list(Episode.objects.filter(project=project).order_by("id"))
    loaded = [list(services.episode_steps(episode=e)) for e in episodes]
    n = sum(len(s) for s in loaded)
    # The loaded trace is long-lived: keep the cyclic GC from rescanning it during the timing.
    gc.collect()
    gc.freeze()

    # Wall time is what a worker delivers on this machine; CPU time is the same work without the
    # other processes that share the cores (the figure that carries over to a dedicated worker).
    t, c = time.perf_counter(), time.process_time()
    results = [engine.check_many(compiled, steps) for steps in loaded]
    engine_s, engine_cpu = time.perf_counter() - t, time.process_time() - c
    fails = sum(v.status == "fail" for r in results for v in r)
    print(f"engine:  {n} steps x {len(compiled)} contracts: {n / engine_s:,.0f} steps/s wall, "
          f"{n / engine_cpu:,.0f} steps/s per CPU-second ({n * len(compiled) / engine_cpu:,.0f} contract-steps/s); "
          f"{fails} failed verdicts")

    t, c = time.perf_counter(), time.process_time()
    for e in episodes:
        services.episode_check(episode=e, versions=versions)
    service_s, service_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"service: {n} steps: {n / service_s:,.0f} steps/s wall, {n / service_cpu:,.0f} steps/s per CPU-second "
          f"of this process (read from PostgreSQL, check, store {Verdict.objects.count()} verdicts, "
          f"{Violation.objects.count()} violations; PostgreSQL's own CPU not counted)")

    for length in (100, 1_000, 10_000):
        steps = episode_steps(random.Random(length), length)
        reps = max(1, 10_000 // length)
        c = time.process_time()
        for _ in range(reps):
            engine.check_many(compiled, steps)
        per_step = (time.process_time() - c) / (reps * len(steps)) * 1e6
        print(f"linearity: {len(steps):>6}-step episode: {per_step:.1f} µs CPU per step (20 contracts)")

    # Runtime path: one step per batch (as a runtime that posts each step), all runtime contracts
    # checked after each; the cost per batch must not grow with the episode's length.
    runtime_steps = episode_steps(random.Random(11), 1_200)
    live, _ = traces.episode_upsert(project=project, external_id="bench-live")
    quarter = len(runtime_steps) // 4
    cpu = []
    for i, step in enumerate(runtime_steps):
        traces.steps_append_batch(episode=live, steps=[dict(step)])
        c = time.process_time()
        services.episode_check_runtime(episode=live)
        cpu.append(time.process_time() - c)
        if i == len(runtime_steps) - 2:
            break  # keep the episode running (the last step is the answer)
    first, last = sum(cpu[:quarter]) / quarter * 1e3, sum(cpu[-quarter:]) / quarter * 1e3
    print(f"runtime: {len(cpu)} one-step batches, runtime contracts checked after each: "
          f"{first:.2f} ms CPU per batch in the first quarter, {last:.2f} ms in the last")

    load = os.getloadavg()[0]
    verdict = "meets" if n / engine_cpu >= TARGET else "misses"
    print(f"target {TARGET:,} steps/s per worker process (engine, per CPU-second): {verdict} it "
          f"({n / engine_cpu:,.0f}); load average during the run {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
