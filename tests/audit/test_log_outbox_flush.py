"""When the outbox is flushed: by the background thread, by the beat task, and never by queueing on a busy lock."""

import contextlib
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings

from apps.audit import services
from apps.audit.models import GovernanceLogEntry, GovernanceLogOutbox
from apps.audit.services import (
    governance_log_append,
    governance_log_defer,
    governance_log_flush,
    governance_log_flush_all,
    log_flush_dirty,
    log_flush_soon,
)
from apps.audit.verification import governance_verify
from apps.core import background
from tests.audit.builders import defer_log


@contextlib.contextmanager
def lock_held_elsewhere(project_id: int):
    """Holds the project's append lock from another connection while the block runs."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [services._LOCK_NAMESPACE, project_id])
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


@pytest.mark.django_db
def test_background_flush_leaves_the_rows_when_the_lock_is_busy(project):
    defer_log(project, 2)
    with lock_held_elsewhere(project.id):
        assert governance_log_flush(project_id=project.id, wait=False) == -1
        assert GovernanceLogOutbox.objects.filter(project=project).count() == 2
    assert governance_log_flush(project_id=project.id, wait=False) == 2
    assert governance_verify(project=project).ok


@pytest.mark.django_db
def test_a_project_whose_lock_was_busy_stays_marked_for_the_next_flush(project):
    defer_log(project, 1)
    log_flush_soon(project.id)  # flushing is off in tests: this only marks
    with lock_held_elsewhere(project.id):
        assert log_flush_dirty() == 0
    assert project.id in services._dirty
    assert log_flush_dirty() == 1
    assert project.id not in services._dirty


def wait_until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.django_db(transaction=True)
@override_settings(WARDEN_LOG_FLUSH_INTERVAL=0)
def test_marked_projects_are_chained_by_the_background_thread_without_any_reader(project):
    defer_log(project, 2)
    log_flush_soon(project.id)
    assert wait_until(lambda: not GovernanceLogOutbox.objects.exists())
    assert GovernanceLogEntry.objects.filter(project=project).count() == 2
    assert background.wait_idle()
    assert not services._flush_scheduled


@pytest.mark.django_db(transaction=True)
@override_settings(WARDEN_LOG_FLUSH_INTERVAL=600)
def test_the_background_flush_waits_the_interval_since_the_last_one_and_batches_meanwhile(project):
    log_flush_dirty()  # this process flushed just now
    defer_log(project, 1)
    log_flush_soon(project.id)
    defer_log(project, 1)
    log_flush_soon(project.id)  # already scheduled: the same flush takes both rows
    assert background.wait_idle()  # nothing is due yet
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 2
    # One flush waits, an interval after the last one (the margin absorbs any load on the host);
    # run it now rather than waiting ten minutes.
    with background._cv:
        [(due, _order, scheduled)] = background._heap
        background._heap.clear()
    assert due - time.monotonic() > 500
    scheduled()
    assert not GovernanceLogOutbox.objects.exists()
    assert GovernanceLogEntry.objects.filter(project=project).count() == 2


@pytest.mark.django_db(transaction=True)
@override_settings(WARDEN_LOG_FLUSH_INTERVAL=0)
def test_the_background_flush_logs_a_failing_project_and_still_flushes_the_others(project, caplog):
    defer_log(project, 1)
    with caplog.at_level("ERROR", logger="apps.audit.services"):
        log_flush_soon(2**40)  # no such project: the lock key does not fit the lock's integer key
        log_flush_soon(project.id)
        assert wait_until(lambda: not GovernanceLogOutbox.objects.exists())
        assert background.wait_idle()
    assert "could not flush the governance log outbox of project 1099511627776" in caplog.text
    assert GovernanceLogEntry.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_beat_task_flushes_every_project_in_eager_mode(project, other_project):
    from apps.audit.tasks import log_outbox_flush_task

    defer_log(project, 2)
    defer_log(other_project, 1)
    assert log_outbox_flush_task.delay().get() == 3
    assert not GovernanceLogOutbox.objects.exists()


def test_beat_schedules_the_outbox_flush_every_five_seconds():
    from workers.celery_app import app

    entry = app.conf.beat_schedule["governance-log-outbox-flush"]
    assert (entry["task"], entry["schedule"]) == ("apps.audit.tasks.log_outbox_flush_task", 5.0)


DEFERRERS = 6
PER_DEFERRER = 30
APPENDS = 10


def _deferrer(project, worker: int, errors: list) -> None:
    try:
        for i in range(PER_DEFERRER):
            with transaction.atomic():
                governance_log_defer(project=project, event="decision", actor=f"d{worker}", data={"i": i})
            if i % 5 == 4:
                governance_log_flush(project_id=project.id, wait=worker % 2 == 0)
    except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
        errors.append(exc)
    finally:
        connection.close()


def _appender(project, errors: list) -> None:
    try:
        for i in range(APPENDS):
            governance_log_append(project=project, event="sanction.applied", actor="direct", data={"i": i})
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_defers_flushes_and_appends_stay_gap_free_and_verify(project):
    errors: list = []
    threads = [threading.Thread(target=_deferrer, args=(project, n, errors)) for n in range(DEFERRERS)]
    threads.append(threading.Thread(target=_appender, args=(project, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    governance_log_flush_all()
    total = DEFERRERS * PER_DEFERRER + APPENDS
    rows = list(GovernanceLogEntry.objects.filter(project=project).order_by("seq").values_list("seq", "actor", "payload"))
    assert [seq for seq, _a, _p in rows] == list(range(1, total + 1))
    for worker in range(DEFERRERS):  # each writer's events keep the order they were committed in
        mine = [payload for _s, actor, payload in rows if actor == f"d{worker}"]
        assert mine == [f'{{"i":{i}}}' for i in range(PER_DEFERRER)]
    assert not GovernanceLogOutbox.objects.exists()
    assert governance_verify(project=project).ok


@pytest.mark.django_db(transaction=True)
def test_test_database_flush_empties_a_pending_outbox(project):
    defer_log(project, 2)
    call_command("flush", interactive=False, verbosity=0)
    assert not GovernanceLogOutbox.objects.exists()


@pytest.mark.django_db(transaction=True)
@override_settings(WARDEN_LOG_FLUSH_INTERVAL=-1)
def test_a_negative_interval_turns_the_background_flush_off(project):
    defer_log(project, 1)
    log_flush_soon(project.id)
    assert not services._flush_scheduled
    assert background.wait_idle()
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 1
