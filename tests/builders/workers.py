"""Real Celery workers for integration tests: each on a queue of the test's own, on the test database.

`worker` is a fixture factory: `start()` runs one worker process (one pool process) that takes every
task from the test's queue (tests/builders/worker_app.py routes them there), so a worker the test
starts never takes another test's messages, nor they its. Every started worker is stopped after.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")


def wait_until(predicate, seconds: float = 180) -> bool:
    """Polls `predicate` until it holds or `seconds` pass; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def worker(settings):
    from workers.celery_app import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    routes = dict(app.conf.task_routes)
    # conf.update, not item assignment: Celery rebuilds its (cached) router only on an update.
    app.conf.update(task_routes={"*": {"queue": queue}})
    app.conf.task_always_eager = False
    database = urlparse(os.environ.get("DATABASE_URL", settings.DEFAULT_DATABASE_URL))
    database_url = database._replace(path="/" + settings.DATABASES["default"]["NAME"]).geturl()
    env = dict(os.environ, DATABASE_URL=database_url, CELERY_BROKER_URL=BROKER, PYTHONPATH=str(ROOT),
               WARDEN_LOG_FLUSH_INTERVAL="-1", WARDEN_TEST_QUEUE=queue)
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.builders.worker_app", "worker", "-Q", queue, "-c", "1",
             "-l", "warning", "--without-gossip", "--without-mingle", "-n", f"{queue}-{len(procs)}@%h"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        return proc

    yield start
    app.conf.update(task_routes=routes)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    from apps.core import background
    background.release_connections()
