"""Thin Celery entry points; the work lives in the oracle and the controller."""

from celery import shared_task
from django.db import OperationalError

from apps.governance import oracle
from apps.traces.models import Episode


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def oracle_episode_task(episode_id: int) -> None:
    episode = Episode.objects.select_related("project").filter(id=episode_id).first()
    if episode is not None:
        oracle.oracle_episode(episode=episode)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def oracle_sweep_task() -> int:
    return oracle.oracle_sweep()
