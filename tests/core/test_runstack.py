"""`make run` keeps the stack up: a child that dies is started again, the others keep running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.bench.live import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> dict[str, int]:
    """The runner's children by role (web, worker, beat), read from /proc."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            args = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
            for role, arg in (("web", "gunicorn"), ("worker", "worker"), ("beat", "beat")):
                if arg in args:
                    found[role] = int(child)
    return found


def _all_three(pid: int, killed: int | None = None) -> dict[str, int] | None:
    children = _children(pid)
    return children if len(children) == 3 and children["worker"] != killed else None


def _wait(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    return None


def test_a_killed_worker_is_restarted_while_web_and_beat_keep_running(settings, tmp_path):
    name = connection.settings_dict["NAME"]
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/warden").rsplit("/", 1)[0]
    env = dict(os.environ, DATABASE_URL=f"{base}/{name}", WEB_CONCURRENCY="1",
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL)
    runner = subprocess.Popen([sys.executable, "manage.py", "runstack", "--no-seed", "--port", str(free_port())],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = _wait(lambda: _all_three(runner.pid))
        assert first, "the runner did not start web, worker and beat"
        os.kill(first["worker"], signal.SIGKILL)
        again = _wait(lambda: _all_three(runner.pid, killed=first["worker"]))
        assert again, "the killed worker was not started again"
        assert (again["web"], again["beat"]) == (first["web"], first["beat"])
        assert runner.poll() is None
        # The children connect as the role that owns nothing (beat's outbox sweep runs in the worker).
        assert _wait(lambda: _sessions_of("warden_app", name), timeout=180), "no session of the runtime role"
    finally:
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=60)
    assert "worker exited with -9; restarting it" in err


def _sessions_of(role: str, database: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s", [role, database])
        return cursor.fetchone()[0]
