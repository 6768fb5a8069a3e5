"""Thin Celery entry points; the work lives in services, oracle and controller."""

from celery import shared_task
from django.db import OperationalError

from apps.governance import oracle, services
from apps.traces.models import Episode


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def log_checkpoint_task() -> int:
    return services.log_checkpoint_all()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def log_outbox_flush_task() -> int:
    return services.governance_log_flush_all()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def oracle_episode_task(episode_id: int) -> None:
    episode = Episode.objects.select_related("project").filter(id=episode_id).first()
    if episode is not None:
        oracle.oracle_episode(episode=episode)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def oracle_sweep_task() -> int:
    return oracle.oracle_sweep()
