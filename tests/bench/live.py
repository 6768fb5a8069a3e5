"""A real Warden server for benchmarks: gunicorn on a free loopback port over a bench database.

    with live_server(workers=2) as server:
        server.url           # http://127.0.0.1:PORT
        server.manage("shell", "-c", "...")   # run management commands against the same DB

The bench database (`warden_bench` unless WARDEN_BENCH_DB names another) is dropped and
re-created, so figures start from empty tables every run.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("WARDEN_ALLOW_DEV_KEYS", "1")  # the bench server runs with the development keys

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(db: str | None = None) -> dict:
    db = db or os.environ.get("WARDEN_BENCH_DB", "warden_bench")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/warden").rsplit("/", 1)[0]
    env = dict(os.environ, DATABASE_URL=f"{base}/{db}", DJANGO_SETTINGS_MODULE="apps.settings",
               CELERY_BROKER_URL=os.environ.get("WARDEN_BENCH_BROKER", BENCH_BROKER),
               WARDEN_BROKER_KEYPREFIX=f"{db}:")
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    # Requests are counted against the key's rate limit as in production, at a limit no benchmark reaches.
    env.setdefault("WARDEN_API_RATE_LIMIT", "100000000/60")
    return env


# Tasks a benchmarked server publishes go to a Redis database that `make run`'s worker does not
# read, under keys prefixed with the bench database's name (WARDEN_BROKER_KEYPREFIX): each bench
# has queues of its own there, and empties only those at its start.
BENCH_BROKER = "redis://127.0.0.1:6379/13"


def empty_broker(env: dict) -> int:
    """Deletes the bench's own broker keys (its prefix), never another's; returns how many."""
    import redis

    prefix = env["WARDEN_BROKER_KEYPREFIX"]
    try:
        client = redis.Redis.from_url(env["CELERY_BROKER_URL"])
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    except redis.RedisError:
        return 0  # no Redis: the server falls back as `make run` does, nothing to empty


def recreate_database(env: dict) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    admin_url, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def process_cpu(*needles: str) -> dict[str, float]:
    """User+system CPU seconds so far of each process whose command line holds every needle.

    Reads Linux /proc; arguments are joined with spaces, as `ps` shows them. Other work on a
    shared machine slows the wall clock; a server's CPU per request does not move with it.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if not all(needle in cmd for needle in needles):
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        except (OSError, IndexError):
            continue  # the process ended meanwhile
    return found


def cpu_since(before: dict[str, float], *needles: str) -> float:
    """CPU seconds the matching processes used since `before` (a process_cpu reading).

    Counted per process: one started meanwhile counts whole, and one that ended cannot make the
    figure negative (what it used after `before` is lost, so keep connections open while measuring).
    """
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in process_cpu(*needles).items())


class Server:
    def __init__(self, url: str, env: dict):
        self.url = url
        self.env = env

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout

    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(query, params).fetchall()


@contextlib.contextmanager
def live_server(workers: int = 2, threads: int = 1, extra_env: dict | None = None):
    env = bench_env()
    env.update(extra_env or {})
    recreate_database(env)
    empty_broker(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "apps.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        yield Server(url, env)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
