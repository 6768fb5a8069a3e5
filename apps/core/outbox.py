"""A transactional outbox for Celery tasks: the work a write promises is stored with the write.

    task_enqueue(task=episode_check_task, args=[episode.pk])     # inside the write's transaction

The row commits or rolls back with the write. After commit it is published (after the response
inside a request, apps/core/after_response.py) with its id in a message header, and the worker
deletes it once the task has succeeded. A row still there when its lease runs out (the broker was
down, a message was lost, the process that was to publish it or the worker running it died) is
published again by `outbox_sweep` (Celery beat), each time with a lease twice as long; after
MAX_ATTEMPTS it is marked failed and logged. Tasks sent this way must be idempotent: one can run
twice (a redelivery, or a sweep racing a slow worker).
"""

import logging
import time
from datetime import timedelta

from celery import Task, current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.after_response import after_response
from apps.core.models import TaskOutbox

logger = logging.getLogger(__name__)

HEADER = "warden_outbox"
MAX_ATTEMPTS = 8
SWEEP_BATCH = 1000
PAUSE_SECONDS = 5.0

_paused_until = 0.0  # monotonic time before which this process does not try the broker again


def _lease(attempts: int) -> timedelta:
    return timedelta(seconds=settings.WARDEN_OUTBOX_LEASE_SECONDS * 2 ** min(attempts, 6))


# A row as a raw-SQL writer inserts it inside its own statement (the /decide write, policies.sql):
# extend with a SELECT of these columns, due_at from first_due(); publish with task_promised after commit.
OUTBOX_COLUMNS = ("task", "args", "created_at", "due_at", "attempts")
OUTBOX_INSERT = f"INSERT INTO core_taskoutbox ({', '.join(OUTBOX_COLUMNS)})"


def first_due(now, countdown: float = 0.0):
    """When the sweeper first publishes a new row again unless its task has succeeded by then."""
    return now + timedelta(seconds=countdown) + _lease(0)


def task_enqueue(*, task: Task, args: list, countdown: float = 0.0) -> int:
    """Records, in the caller's transaction, that `task(*args)` must run; returns the row's id.

    `countdown` seconds after commit at the earliest. Call it inside the transaction of the write
    that makes the work necessary, so that neither can exist without the other.
    """
    now = timezone.now()
    row = TaskOutbox.objects.create(task=task.name, args=args, created_at=now, due_at=first_due(now, countdown))
    transaction.on_commit(lambda: task_promised(row_id=row.pk, task=task.name, args=args, countdown=countdown))
    return row.pk


def task_promised(*, row_id: int, task: str, args: list, countdown: float = 0.0) -> None:
    """Publishes a committed outbox row (after the response inside a request). Call after commit."""
    after_response(lambda: task_publish(row_id=row_id, task=task, args=args, countdown=countdown))


def task_publish(*, row_id: int, task: str, args: list, countdown: float = 0.0) -> bool:
    """Hands the row's task to the broker once; False (logged in one line) when that failed.

    No publish retries here: the row stays, and the sweeper is the retry. After a failure this
    process leaves the broker alone for PAUSE_SECONDS, so an unreachable broker costs one timeout,
    not one per decision (the background thread that publishes also chains the log).
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    options = {"args": args, "countdown": countdown or None, "headers": {HEADER: row_id}, "retry": False}
    if current_app.conf.task_always_eager:  # tests: the task runs right here, and its failure is its own
        try:
            current_app.tasks[task].apply_async(**options)
        except Exception:
            logger.exception("task %s (outbox row %s) failed", task, row_id)
        return True
    try:
        current_app.tasks[task].apply_async(**options)
        return True
    except Exception as exc:  # noqa: BLE001 - the broker being down is expected; the sweeper catches up
        _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning("task %s (outbox row %s) not published yet: %s: %s", task, row_id, type(exc).__name__, exc)
        return False


def outbox_row_id(request) -> int | None:
    """The outbox row a running task came from (None for a task sent some other way)."""
    value = getattr(request, HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return value


def task_done(*, row_id: int) -> None:
    TaskOutbox.objects.filter(pk=row_id).delete()


def on_task_success(sender: Task | None = None, **kwargs) -> None:
    """Celery's task_success: the promised work happened, the row can go."""
    row_id = outbox_row_id(sender.request) if sender is not None else None
    if row_id is not None:
        task_done(row_id=row_id)


def outbox_sweep(*, limit: int = SWEEP_BATCH) -> int:
    """Publishes again the rows whose lease ran out; returns how many were handed to the broker.

    Rows are claimed with SKIP LOCKED, so two sweepers never publish the same row at once.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(TaskOutbox.objects.select_for_update(skip_locked=True)
                    .filter(failed_at__isnull=True, due_at__lte=now).order_by("due_at")[:limit])
        for row in rows:
            row.attempts += 1
            row.due_at = now + _lease(row.attempts)
            if row.task not in current_app.tasks:  # renamed or removed since the row was written
                row.failed_at = now
                logger.error("outbox row %s names task %s, which this version lacks; giving up", row.pk, row.task)
            elif row.attempts > MAX_ATTEMPTS:
                row.failed_at = now
                logger.error("task %s (outbox row %s) did not succeed after %s publishes; giving up",
                             row.task, row.pk, MAX_ATTEMPTS)
        TaskOutbox.objects.bulk_update(rows, ["attempts", "due_at", "failed_at"])
    pending = [row for row in rows if row.failed_at is None]
    published = 0
    for row in pending:
        if not task_publish(row_id=row.pk, task=row.task, args=row.args):
            break
        published += 1
    unsent = [row.pk for row in pending[published:]]
    if unsent:  # the broker is down: not an attempt, the next sweep tries again
        TaskOutbox.objects.filter(pk__in=unsent).update(attempts=F("attempts") - 1, due_at=now)
    return published
