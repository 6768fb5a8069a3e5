"""Thin Celery entry points (queue `default`): advance an experiment; the beat sweep."""

from celery import shared_task
from django.db import OperationalError


# Idempotent: counting and dispatching happen under the experiment's row lock, each trial once.
@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=5)
def experiment_advance_task(experiment_id: int) -> dict:
    from apps.experiments.services import experiment_advance

    return experiment_advance(experiment_id=experiment_id)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def experiments_sweep_task() -> int:
    from apps.experiments.services import experiments_sweep

    return experiments_sweep()
