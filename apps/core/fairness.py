"""Per-project fairness for check tasks: no project holds more than its share of the workers.

A check task first takes one of its project's WARDEN_CHECKS_PER_PROJECT slots: a PostgreSQL
session advisory lock `(namespace + slot, project_id)`, tried without waiting. When every slot is
taken, the task is sent again (after WARDEN_CHECKS_REQUEUE_SECONDS) instead of waiting, so the
worker goes on to the next message, often another project's. A flood of one project's checks
then keeps at most that many workers busy, and other projects' checks run beside it.

Advisory locks belong to the database session: a worker process that dies releases its slot with
its connection, so a crash never leaves a project short of slots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

# pg advisory lock namespaces (+ slot number), apart from the governance log's 7_301: what-if jobs
# run long, so they have slots of their own and never hold up a project's routine checks.
NAMESPACES = {"checks": 7_400, "whatif": 7_500}


@contextmanager
def project_slot(*, project_id: int, kind: str = "checks") -> Iterator[bool]:
    """Yields True holding one of the project's slots of this kind, or False when all are taken."""
    taken = None
    namespace = NAMESPACES[kind]
    with connection.cursor() as cursor:
        for slot in range(max(1, settings.WARDEN_CHECKS_PER_PROJECT)):
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace + slot, project_id])
            if cursor.fetchone()[0]:
                taken = slot
                break
    try:
        yield taken is not None
    finally:
        if taken is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace + taken, project_id])
            except DatabaseError:
                pass  # the session is gone, and its advisory locks with it


def run_fairly(*, task: Any, project_id: int, args: list, work: Callable[[], object], kind: str = "checks") -> bool:
    """Runs `work` in one of the project's slots, or sends `task(*args)` again for later.

    Returns whether the work ran. Eagerly run tasks (tests, no worker) always run: there is no
    worker to share and a re-send would run at once.
    """
    if getattr(task.request, "is_eager", False):
        work()
        return True
    with project_slot(project_id=project_id, kind=kind) as slot:
        if slot:
            work()
            return True
    task.apply_async(args=args, countdown=settings.WARDEN_CHECKS_REQUEUE_SECONDS)
    return False


def time_limits(kind: str = "checks") -> dict:
    """Celery's soft and hard time limits for a check task (`checks`) or a what-if job (`whatif`)."""
    if kind == "whatif":
        return {"soft_time_limit": settings.WARDEN_WHATIF_SOFT_SECONDS, "time_limit": settings.WARDEN_WHATIF_HARD_SECONDS}
    return {"soft_time_limit": settings.WARDEN_CHECK_SOFT_SECONDS, "time_limit": settings.WARDEN_CHECK_HARD_SECONDS}
