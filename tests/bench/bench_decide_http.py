"""HTTP /decide under load: real gunicorn (2 workers), a 50-rule policy, load from a second process.

    .venv/bin/python tests/bench/bench_decide_http.py [--rate 200] [--seconds 15] [--idempotency-keys]
        [--provenance]

Open-loop load at a fixed rate (latency counted from each request's scheduled time, so a stalled
server cannot hide queueing), every decision stored with its step and governance-log entry.
`--idempotency-keys` sends a fresh Idempotency-Key with each call, as the Python client does.
`--provenance` publishes the same policy with provenance conditions (40 rules `from: trusted` on the
recipient, 26 also `tainted` on a memo each call carries), so each decision reads the episode's index.
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse
import http.client
import json
import os
import queue
import resource
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid

DROP_LATE_SECONDS = 2.0

SEED = """
from apps.tenancy.services import api_key_create, project_create
from apps.policies.services import policy_publish
from tests.bench.bench_policy_engine import fifty_rule_policy
project = project_create(slug="bench", name="Bench")
policy_publish(project=project, source=fifty_rule_policy(provenance=PROVENANCE), actor="bench")
key, raw = api_key_create(project=project, name="bench", scopes=["decide"])
print(raw)
"""


def body_for(i: int, memo: bool = False) -> bytes:
    kind = i % 20
    episode = f"bench-ep-{i % 64}"
    extra = {"memo": f"rent for month {i}"} if memo else {}
    if kind < 14:
        call = {"tool": f"tool_{i % 40}", "arguments": {"amount": i % 900, "recipient": "UK123456", **extra}}
    elif kind < 16:
        call = {"tool": f"tool_{i % 40}", "arguments": {"amount": 5000, "recipient": "UK123456", **extra}}
    elif kind < 18:
        call = {"tool": f"read_{i % 5}_file", "arguments": {"path": "/tmp/x"}}
    else:
        call = {"tool": "unknown_tool", "arguments": {}}
    return json.dumps({"episode": episode, "agent": "bench-1", **call}).encode()


def load(url: str, key: str, rate: float, seconds: float, warmup: float, keyed: bool = False,
         memo: bool = False) -> None:
    """Runs in the second process: fires requests at `rate`/s, prints a JSON summary."""
    parsed = urllib.parse.urlparse(url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    run = uuid.uuid4().hex[:12]
    jobs: queue.Queue = queue.Queue()
    results: list[tuple[float, float, int]] = []  # (scheduled, latency seconds, status)
    lock = threading.Lock()

    def worker() -> None:
        conn = None
        while True:
            job = jobs.get()
            if job is None:
                return
            i, scheduled = job
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif -delay > DROP_LATE_SECONDS:
                # The server is saturated: keep the run bounded and count what could not be sent.
                with lock:
                    results.append((scheduled, -delay, -1))
                continue
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                sent = {**headers, "Idempotency-Key": f"{run}-{i}"} if keyed else headers
                conn.request("POST", "/api/v1/decide", body=body_for(i, memo), headers=sent)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status = 0
                conn = None
            done = time.perf_counter()
            with lock:
                results.append((scheduled, done - scheduled, status))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(24)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    total = int(rate * (seconds + warmup))
    for i in range(total):
        jobs.put((i, start + i / rate))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    window = [r for r in results if r[0] >= start + warmup]
    dropped = sum(1 for r in window if r[2] == -1)
    measured = [r for r in window if r[2] != -1] or [(start, 0.0, 0)]
    lat = sorted(r[1] * 1000 for r in measured)
    ok = sum(1 for r in measured if r[2] == 200)
    span = max(r[0] + r[1] for r in measured) - min(r[0] for r in measured) or 1.0
    print(json.dumps({
        "requests": len(measured), "ok": ok, "errors": len(measured) - ok, "dropped": dropped,
        "p50_ms": statistics.median(lat), "p90_ms": lat[int(len(lat) * 0.90)], "p99_ms": lat[int(len(lat) * 0.99)],
        "max_ms": lat[-1], "throughput": ok / span, "sent_total": len(results),
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--runs", type=int, default=3, help="measured runs at --rate (the tail varies from run to run)")
    parser.add_argument("--also", type=float, default=25, help="a second, lower rate to show capacity (0: skip)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--async-commit", action="store_true",
                        help="run the server with WARDEN_DECIDE_ASYNC_COMMIT=1 (no fsync wait per decision)")
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="send a fresh Idempotency-Key with every call (what clients/python does)")
    parser.add_argument("--provenance", action="store_true",
                        help="the policy with provenance conditions; each call carries a memo")
    parser.add_argument("--load", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load[0], args.load[1], args.rate, args.seconds, args.warmup, args.idempotency_keys, args.provenance)
        return

    # A private bench database: other benchmarks running at the same time drop and re-create theirs.
    os.environ.setdefault("WARDEN_BENCH_DB", "warden_bench_policies")
    from tests.bench.live import cpu_since, live_server, process_cpu

    seconds = min(args.seconds, 30)  # stay well inside the 2-minute bound
    rates = [args.rate] * max(args.runs, 1) + ([args.also] if args.also else [])
    runs: dict[float, list[tuple[float, bool]]] = {}
    print(f"server: gunicorn, {args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs (load generator on the same host), "
          f"decide commits {'without' if args.async_commit else 'with'} waiting for the WAL flush, "
          f"{'an' if args.idempotency_keys else 'no'} Idempotency-Key per call, "
          f"policy {'with' if args.provenance else 'without'} provenance conditions")
    # Connections live through the whole benchmark, as a server's do between deploys; a backend
    # that exits mid-run would take its CPU time out of the PostgreSQL figure.
    extra = {"WARDEN_DECIDE_ASYNC_COMMIT": "1" if args.async_commit else "0", "DB_CONN_MAX_AGE": "3600"}
    with live_server(workers=args.workers, threads=args.threads, extra_env=extra) as server:
        try:
            key = server.manage("shell", "-c", f"PROVENANCE = {args.provenance}\n" + SEED).strip().splitlines()[-1]
        except subprocess.CalledProcessError as exc:
            sys.exit(f"seeding the bench database failed:\n{exc.stderr}")
        # Each worker process compiles the policy, prepares its statements and opens its broker
        # connection on first use; a short run at a low rate does that before anything is measured.
        port = server.url.rsplit(":", 1)[1]
        subprocess.run([sys.executable, __file__, "--load", server.url, key, "--rate", "50", "--seconds", "3",
                        "--warmup", "0", *(["--provenance"] if args.provenance else [])],
                       check=True, capture_output=True, text=True, timeout=60)
        for rate in rates:
            before = _drained(server)
            _checkpoint(server)
            load_before = os.getloadavg()[0]
            db = server.env["DATABASE_URL"].rsplit("/", 1)[1]
            web, pg = ("gunicorn", f"127.0.0.1:{port}"), (f"postgres {db} ",)
            web_cpu, pg_cpu = process_cpu(*web), process_cpu(*pg)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(
                [sys.executable, __file__, "--load", server.url, key, "--rate", str(rate),
                 "--seconds", str(seconds), "--warmup", str(args.warmup),
                 *(["--idempotency-keys"] if args.idempotency_keys else []),
                 *(["--provenance"] if args.provenance else [])],
                check=True, capture_output=True, text=True, env=dict(os.environ),
                timeout=seconds + args.warmup + 45,
            )
            f = json.loads(out.stdout.strip().splitlines()[-1])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            load_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            _drained(server)
            web_cpu, pg_cpu = cpu_since(web_cpu, *web), cpu_since(pg_cpu, *pg)
            decisions = server.sql("SELECT count(*) FROM policies_decision")[0][0] - before
            logged = server.sql(
                "SELECT count(*) FROM governance_governancelogentry WHERE event = 'decision'")[0][0]
            steps = server.sql("SELECT count(*) FROM traces_step WHERE kind = 'decision'")[0][0]
            inside = server.sql(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us),"
                " percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us) FROM policies_decision"
                " WHERE id > (SELECT coalesce(max(id), 0) FROM policies_decision) - %s", [decisions])[0]
            print(f"-- offered {rate:.0f} req/s for {seconds:.0f} s after {args.warmup:.0f} s warm-up "
                  "(50-rule policy, 64 episodes, mixed allow/rewrite/block)")
            print(f"   sent {f['requests']} ({f['errors']} errors); {f['dropped']} not sent because the server "
                  f"fell > {DROP_LATE_SECONDS:.0f} s behind")
            print(f"   latency: p50 {f['p50_ms']:.2f} ms, p90 {f['p90_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, "
                  f"max {f['max_ms']:.2f} ms")
            print(f"   achieved throughput: {f['throughput']:.1f} decisions/s")
            print(f"   stored: {decisions} decisions this run; totals {steps} decision steps, "
                  f"{logged} 'decision' log entries")
            print(f"   decision time in the service before its write (Decision.latency_us): "
                  f"p50 {inside[0]:.0f} us, p99 {inside[1]:.0f} us")
            met = f["p99_ms"] < 10 and not f["dropped"] and not f["errors"]
            runs.setdefault(rate, []).append((f["p99_ms"], met))
            print(f"   CPU per decision: web {web_cpu * 1000 / max(decisions, 1):.1f} ms, "
                  f"postgres {pg_cpu * 1000 / max(decisions, 1):.1f} ms; load generator "
                  f"{load_cpu * 1000 / max(f['sent_total'], 1):.1f} ms per request")
            print(f"   host load average before the run: {load_before:.2f} (other processes share these CPUs)")
            print(f"   p99 < 10 ms at this rate: {'MET' if met else 'MISSED'}")
    for rate, measured in runs.items():
        p99 = [p for p, _met in measured]
        print(f"== {rate:.0f} req/s over {len(measured)} run(s): p99 {', '.join(f'{p:.2f}' for p in p99)} ms "
              f"(median {statistics.median(p99):.2f} ms); p99 < 10 ms in {sum(m for _p, m in measured)} of {len(measured)}")


def _checkpoint(server) -> None:
    """Writes out what creating, migrating and seeding the database left dirty, so a checkpoint
    the server would start on its own does not compete with the measured run for the disk."""
    import psycopg

    with psycopg.connect(server.env["DATABASE_URL"], autocommit=True) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("   (no CHECKPOINT: the bench role is not a superuser)")


def _drained(server) -> int:
    """Waits (bounded) until requests queued by a previous, saturating phase are all answered."""
    count = server.sql("SELECT count(*) FROM policies_decision")[0][0]
    for _ in range(30):
        time.sleep(1)
        now = server.sql("SELECT count(*) FROM policies_decision")[0][0]
        if now == count:
            return now
        count = now
    return count


if __name__ == "__main__":
    main()
