"""Experiments fanned out to real Celery workers through the real broker, and recovered when one dies."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

from apps.episodes.models import Run
from apps.experiments import services
from apps.experiments.models import Condition, Experiment, Trial
from tests.experiments.builders import cournot_spec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")


def _wait(predicate, seconds: float = 180) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def worker(settings):
    """start() runs a worker process (one pool process) on a queue of this test's own."""
    from workers.celery_app import app

    queue = f"experiments-test-{uuid.uuid4().hex[:8]}"
    routes = dict(app.conf.task_routes)
    app.conf.update(task_routes={"*": {"queue": queue}})
    app.conf.task_always_eager = False
    database = urlparse(os.environ.get("DATABASE_URL", settings.DEFAULT_DATABASE_URL))
    database_url = database._replace(path="/" + settings.DATABASES["default"]["NAME"]).geturl()
    env = dict(os.environ, DATABASE_URL=database_url, CELERY_BROKER_URL=BROKER, PYTHONPATH=str(ROOT),
               WARDEN_LOG_FLUSH_INTERVAL="-1", WARDEN_TEST_QUEUE=queue)
    procs = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.experiments.worker_app", "worker", "-Q", queue, "-c", "1",
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


def _finished(experiment) -> bool:
    return Experiment.objects.get(pk=experiment.pk).finished_at is not None


def _assert_counted_once(experiment: Experiment) -> None:
    experiment.refresh_from_db()
    assert experiment.status == "completed"
    assert experiment.done == experiment.total == Trial.objects.filter(experiment=experiment, counted=True).count()
    assert Run.objects.filter(key__startswith=f"x{experiment.pk}-").count() == experiment.total
    assert set(Run.objects.filter(key__startswith=f"x{experiment.pk}-").values_list("status", flat=True)) == {
        "completed"}
    for condition in Condition.objects.filter(experiment=experiment):
        assert condition.done == Trial.objects.filter(condition=condition, status="completed").count()
        assert condition.state["moments"]["collusion_tier"][0] == condition.done
        assert condition.state["proportions"]["success"][1] == condition.done


def test_real_workers_play_an_experiment_to_the_end(worker, project):
    worker()
    worker()
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=3, rounds=10, max_in_flight=2),
                                            actor="alice")
    assert _wait(lambda: _finished(experiment)), Experiment.objects.filter(pk=experiment.pk).values()
    _assert_counted_once(experiment)
    assert experiment.total == 6


def test_a_worker_killed_mid_experiment_finishes_with_every_trial_counted_once(worker, project):
    worker()
    worker()
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=3, rounds=150, max_in_flight=2),
                                            actor="alice")
    playing = Run.objects.filter(key__startswith=f"x{experiment.pk}-", status="running", rounds_done__gte=3)
    assert _wait(lambda: playing.exists())
    victim = playing.first()
    os.kill(int(victim.worker.rsplit(" pid ", 1)[1]), signal.SIGKILL)  # the pool process, mid-round
    # The killed task comes back from the broker; the sweep would catch a lost advance (called here
    # instead of beat).
    assert _wait(lambda: services.experiments_sweep() == 0, 300), Experiment.objects.filter(pk=experiment.pk).values()
    _assert_counted_once(experiment)
    victim.refresh_from_db()
    assert victim.attempts >= 2
