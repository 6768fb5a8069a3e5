"""Thin Celery entry points for the governance log (beat runs both)."""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def log_checkpoint_task() -> int:
    from apps.audit import services

    return services.log_checkpoint_all()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def log_outbox_flush_task() -> int:
    from apps.audit import services

    return services.governance_log_flush_all()
