"""Per-project fairness of check tasks: one project's flood cannot starve another project's checks."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.contracts.models import Verdict
from apps.core.fairness import project_slot
from apps.traces.models import Episode
from tests.contracts.builders import NO_DELETE, publish
from tests.factories import ProjectFactory

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/15"  # a database of its own: no other worker takes these tasks

pytestmark = pytest.mark.django_db(transaction=True)


class HeldSlot:
    """Holds a project's check slot from another database session, as a busy worker would."""

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with project_slot(project_id=self.project_id) as slot:
                assert slot
                self.taken.set()
                self.release.wait(120)
        finally:
            connection.close()

    def __enter__(self) -> "HeldSlot":
        self.thread.start()
        assert self.taken.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join()


def test_a_project_whose_slots_are_taken_gets_none_while_another_project_does(project, other_project):
    with HeldSlot(project.id):
        with project_slot(project_id=project.id) as mine:
            assert mine is False
        with project_slot(project_id=other_project.id) as theirs:
            assert theirs is True
    with project_slot(project_id=project.id) as mine:
        assert mine is True


def test_what_if_jobs_have_slots_apart_from_routine_checks(project):
    with HeldSlot(project.id):
        with project_slot(project_id=project.id, kind="whatif") as slot:
            assert slot is True


@pytest.fixture
def checks_worker():
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    name = connection.settings_dict["NAME"]
    env = dict(os.environ, CELERY_BROKER_URL=BROKER, PYTHONPATH=str(ROOT), WARDEN_CHECKS_REQUEUE_SECONDS="0.2",
               DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}", WARDEN_LOG_FLUSH_INTERVAL="-1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "checks", "-c", "2",
         "-l", "warning", "--without-gossip", "--without-mingle", "-n", "fairness-worker@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=30)


def wait_for(check, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.integration
def test_a_flood_of_one_projects_checks_does_not_hold_up_another_projects(checks_worker, project):
    from apps.contracts.tasks import episode_check_task
    from workers.celery_app import app

    other = ProjectFactory(slug="initech", name="Initech")
    publish(project, NO_DELETE)
    publish(other, NO_DELETE)
    flood = [Episode.objects.create(project=project, external_id=f"a{i}", status="completed") for i in range(20)]
    single = Episode.objects.create(project=other, external_id="b0", status="completed")
    app.conf.task_always_eager = False
    with HeldSlot(project.id):  # project A's one slot is busy: its checks must wait, B's must not
        with app.connection_for_write(BROKER) as conn:
            for episode in [*flood, single]:
                episode_check_task.apply_async(args=[episode.id], connection=conn)
        assert wait_for(lambda: Verdict.objects.filter(episode=single).exists())
        assert not Verdict.objects.filter(episode__in=flood).exists()
    assert wait_for(lambda: Verdict.objects.filter(episode__in=flood).count() == len(flood))
