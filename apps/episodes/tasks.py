"""Thin Celery entry points (queue `episodes`): one task per run, redelivered if its worker dies."""

from celery import shared_task
from django.db import OperationalError


# acks_late + reject_on_worker_lost: a task whose worker process dies mid-episode goes back to the
# queue; run_execute resumes it from the run's last committed round and ignores duplicates.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def run_execute_task(self, run_id: int) -> str:
    from apps.episodes.services import run_execute

    return run_execute(run_id=run_id, worker=self.request.hostname or "")


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def runs_sweep_task() -> int:
    from apps.episodes.services import runs_sweep

    return runs_sweep()
