"""A real Celery worker process consumes tasks sent through the real broker."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.core.tasks import ping

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

# A Redis database of its own, so a `make run` worker on the same machine cannot take the task.
BROKER = "redis://127.0.0.1:6379/14"


@pytest.fixture
def worker(settings):
    env = dict(os.environ, CELERY_BROKER_URL=BROKER, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "default",
         "-c", "1", "-l", "warning", "--without-gossip", "--without-mingle", "-n", "test-worker@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=20)


def test_task_sent_through_redis_runs_in_a_real_worker(worker, tmp_path):
    from workers.celery_app import app

    marker = tmp_path / "pong"
    app.conf.task_always_eager = False
    with app.connection_for_write(BROKER) as conn:
        ping.apply_async(args=[str(marker)], connection=conn)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.read_text() == "pong"
