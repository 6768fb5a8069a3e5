"""Thin Celery entry points: advance an experiment and the beat sweep (queue `default`); play a
counterexample search (queue `episodes`, with the runs: it plays up to its budget of episodes)."""

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


# acks_late + reject_on_worker_lost: a search whose worker died is delivered again and starts over
# (its seed makes it find the same counterexample); its row's attempts fence the older execution.
@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=5)
def search_run_task(search_id: int) -> str:
    from apps.experiments.searches import search_run

    return search_run(search_id=search_id)
