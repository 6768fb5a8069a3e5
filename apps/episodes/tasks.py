"""Thin Celery entry points (queue `episodes`): one task per run, redelivered if its worker dies."""

import os

from celery import shared_task
from django.db import OperationalError

# A redelivered task can arrive while PostgreSQL still holds the dead executor's lock (it notices
# the closed connection a moment later): such a task tries again instead of being dropped.
BUSY_RETRIES, BUSY_COUNTDOWN = 40, 15


# acks_late + reject_on_worker_lost: a task whose worker process dies mid-episode goes back to the
# queue; run_execute resumes it from the run's last committed round and ignores duplicates.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def run_execute_task(self, run_id: int) -> str:
    from apps.episodes.services import run_execute

    status = run_execute(run_id=run_id, worker=f"{self.request.hostname or 'worker'} pid {os.getpid()}")
    if status == "busy":
        raise self.retry(countdown=BUSY_COUNTDOWN, max_retries=BUSY_RETRIES)
    return status


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def runs_sweep_task() -> int:
    from apps.episodes.services import runs_sweep

    return runs_sweep()
