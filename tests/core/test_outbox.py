"""The task outbox: promised work commits with the write, runs after commit, and is swept until done."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core import outbox
from apps.core.models import TaskOutbox
from apps.core.tasks import ping

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down():
    """Nothing listens at the broker's address: every publish fails (as when Redis is stopped)."""
    from workers.celery_app import app

    saved = app.conf.broker_write_url
    app.conf.task_always_eager = False
    app.conf.broker_write_url = "redis://127.0.0.1:9/0"
    app._after_fork()  # forget pooled connections to the real broker
    yield
    app.conf.broker_write_url = saved
    app._after_fork()
    outbox._paused_until = 0.0
    app.conf.task_always_eager = True


def _due(row_id: int) -> None:
    TaskOutbox.objects.filter(pk=row_id).update(due_at=timezone.now() - timedelta(seconds=1))


def test_work_promised_by_a_write_that_rolls_back_is_neither_kept_nor_run(tmp_path,
                                                                          django_capture_on_commit_callbacks):
    marker = tmp_path / "pong"
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            outbox.task_enqueue(task=ping, args=[str(marker)])
            raise RuntimeError("the write failed")
    assert not TaskOutbox.objects.exists() and not marker.exists()


def test_after_commit_the_task_runs_and_its_row_is_removed(tmp_path, django_capture_on_commit_callbacks):
    marker = tmp_path / "pong"
    with django_capture_on_commit_callbacks(execute=True):
        outbox.task_enqueue(task=ping, args=[str(marker)])
    assert marker.read_text() == "pong"
    assert not TaskOutbox.objects.exists()


def test_a_task_the_broker_refused_stays_promised_and_the_sweep_runs_it_later(
        tmp_path, broker_down, django_capture_on_commit_callbacks, caplog):
    marker = tmp_path / "pong"
    with django_capture_on_commit_callbacks(execute=True):
        row_id = outbox.task_enqueue(task=ping, args=[str(marker)])
    assert TaskOutbox.objects.filter(pk=row_id).exists() and not marker.exists()
    assert "not published yet" in caplog.text and "Traceback" not in caplog.text
    _due(row_id)
    assert outbox.outbox_sweep() == 0  # still down: not counted as an attempt
    assert TaskOutbox.objects.get(pk=row_id).attempts == 0


def test_the_sweep_publishes_only_rows_whose_lease_ran_out(tmp_path):
    later = outbox.task_enqueue(task=ping, args=[str(tmp_path / "later")])
    due = outbox.task_enqueue(task=ping, args=[str(tmp_path / "due")])
    _due(due)
    assert outbox.outbox_sweep() == 1
    assert (tmp_path / "due").read_text() == "pong" and not (tmp_path / "later").exists()
    assert list(TaskOutbox.objects.values_list("pk", flat=True)) == [later]


def test_a_task_that_keeps_failing_is_published_with_a_growing_lease_then_given_up(tmp_path, caplog):
    row_id = outbox.task_enqueue(task=ping, args=[str(tmp_path / "missing-dir" / "pong")])
    leases = []
    for _ in range(outbox.MAX_ATTEMPTS):
        _due(row_id)
        before = timezone.now()
        outbox.outbox_sweep()
        row = TaskOutbox.objects.get(pk=row_id)  # the task raised: the row stays
        leases.append(round((row.due_at - before).total_seconds()))
    assert leases == sorted(leases) and leases[-1] > 4 * leases[0]
    _due(row_id)
    assert outbox.outbox_sweep() == 0
    row = TaskOutbox.objects.get(pk=row_id)
    assert row.failed_at is not None and row.attempts == outbox.MAX_ATTEMPTS + 1
    assert "giving up" in caplog.text
    _due(row_id)
    assert outbox.outbox_sweep() == 0  # a failed row is left for the operator


def test_a_row_naming_a_task_this_version_does_not_have_is_given_up_at_once(caplog):
    row = TaskOutbox.objects.create(task="apps.gone.tasks.old_task", args=[], due_at=timezone.now())
    assert outbox.outbox_sweep() == 0
    row.refresh_from_db()
    assert row.failed_at is not None and "apps.gone.tasks.old_task" in caplog.text
