"""Governance log benchmark: concurrent appends per second, and verifying a million entries.

    .venv/bin/python tests/bench/bench_governance_log.py [--processes 4] [--seconds 5] [--entries 1000000]

Runs on a fresh bench database (WARDEN_BENCH_DB, default warden_bench_governance). Appends go through
`governance_log_append` (advisory lock per project, HMAC, INSERT) from several OS processes, each
with its own connection; the chain is then verified gap-free. The million entries are chained in
Python and loaded with COPY, then `governance_verify` walks them (server-side cursor, one HMAC per row).
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse
import datetime
import multiprocessing as mp
import os
import subprocess
import time

from tests.bench.live import ROOT, bench_env, recreate_database


def _setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def _appender(env: dict, project_id: int, seconds: float, ready, go, out) -> None:
    _setup_django(env)
    from apps.audit.services import governance_log_append
    from apps.tenancy.models import Project

    project = Project.objects.get(id=project_id)
    ready.put(os.getpid())
    go.wait()  # every process starts appending at once, after all of them have loaded Django
    n, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        governance_log_append(project=project, event="decision", actor=f"pid{os.getpid()}",
                              data={"decision_id": n, "agent": "bench", "tool": "send_money", "verdict": "allow"})
        n += 1
    out.put(n)


def bench_appends(env: dict, processes: int, seconds: float) -> None:
    from apps.audit.verification import governance_verify
    from apps.tenancy.models import Project

    for procs in sorted({1, processes}):
        project = Project.objects.create(slug=f"append-{procs}", name=f"appends x{procs}")
        ctx = mp.get_context("spawn")
        ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        workers = [ctx.Process(target=_appender, args=(env, project.id, seconds, ready, go, out)) for _ in range(procs)]
        for w in workers:
            w.start()
        for _ in workers:
            ready.get(timeout=120)
        go.set()
        total = sum(out.get(timeout=120) for _ in workers)
        for w in workers:
            w.join()
        report = governance_verify(project=project)
        print(f"appends, {procs} process(es) x {seconds:.0f} s on one project chain: {total / seconds:,.0f} appends/s "
              f"({total:,} entries; chain gap-free and valid: {report.ok and report.checked == total})")


def load_million(project, entries: int) -> float:
    """Chains `entries` entries in Python and COPYs them in as text; returns seconds taken.

    Timestamps are whole milliseconds from a fixed base, so the `ts` text that is signed is the
    same text PostgreSQL gives back (to_char with microseconds).
    """
    from django.conf import settings
    from django.db import connection, transaction

    from apps.audit import chain

    key_id = settings.WARDEN_LOG_KEY_ID
    key = settings.WARDEN_LOG_KEYS[key_id].encode()
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    digest = chain.hmac.digest
    t0 = time.perf_counter()
    prev = chain.GENESIS
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            # Bench-only shortcut (superuser): skip the per-row FK trigger while loading.
            cursor.execute("SET LOCAL session_replication_role = replica")
        with connection.connection.cursor() as cursor, cursor.copy(
            "COPY governance_governancelogentry"
            " (project_id, seq, created_at, actor, event, payload, prev_hash, mac, key_id) FROM STDIN"
        ) as copy:
            lines = []
            for seq in range(1, entries + 1):
                secs, ms = divmod(seq, 1000)
                ts = (base + datetime.timedelta(seconds=secs)).isoformat()[:19] + f".{ms:03d}000+00:00"
                verdict = "allow" if seq % 5 else "block"
                payload = (f'{{"agent":"agent-{seq % 7}","decision_id":{seq},"rule":"r1",'
                           f'"tool":"send_money","verdict":"{verdict}"}}')
                message = f'{prev}\n{{"actor":"governance","data":{payload},"event":"decision","seq":{seq},"ts":"{ts}"}}'
                mac = digest(key, message.encode(), "sha256").hex()
                lines.append(f"{project.id}\t{seq}\t{ts}\tgovernance\tdecision\t{payload}\t{prev}\t{mac}\t{key_id}\n")
                prev = mac
                if len(lines) == 20_000:
                    copy.write("".join(lines))
                    lines = []
            copy.write("".join(lines))
    return time.perf_counter() - t0


def bench_verify(entries: int) -> None:
    from apps.audit.verification import governance_verify
    from apps.tenancy.models import Project

    project = Project.objects.create(slug="verify", name="verify")
    loaded = load_million(project, entries)
    print(f"loaded {entries:,} chained entries with COPY in {loaded:.1f} s")
    t0 = time.perf_counter()
    report = governance_verify(project=project)
    took = time.perf_counter() - t0
    print(f"verify: {report.checked:,} entries in {took:.2f} s ({report.checked / took:,.0f} entries/s), "
          f"ok={report.ok} (target: 1,000,000 in under 10 s)")


def bench_export(entries: int) -> None:
    """Exports a range as a signed bundle and checks it with the standalone verifier."""
    import tempfile

    from django.conf import settings

    from apps.audit.verification import log_export_lines
    from apps.tenancy.models import Project

    project = Project.objects.get(slug="verify")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as out:
        t0 = time.perf_counter()
        for line in log_export_lines(project=project, from_seq=1, to_seq=entries):
            out.write(line)
        exported = time.perf_counter() - t0
    key = ",".join(f"{k}:{v}" for k, v in settings.WARDEN_LOG_KEYS.items())
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, str(ROOT / "clients" / "verify" / "warden_verify.py"), out.name],
                            env={**os.environ, "WARDEN_LOG_KEYS": key}, capture_output=True, text=True)
    took = time.perf_counter() - t0
    os.unlink(out.name)
    print(f"export of {entries:,} entries as a signed bundle: {exported:.1f} s; standalone verifier: {took:.1f} s "
          f"({entries / took:,.0f} entries/s) -> {result.stdout.strip()[:40]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    # Its own database, so benchmarks of other apps running at the same time cannot drop it.
    env = bench_env(os.environ.get("WARDEN_BENCH_DB", "warden_bench_governance"))
    recreate_database(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    _setup_django(env)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} at start; database {env['DATABASE_URL'].rsplit('/', 1)[1]}")
    bench_appends(env, args.processes, args.seconds)
    bench_verify(args.entries)
    bench_export(min(args.entries, 50_000))


if __name__ == "__main__":
    main()
