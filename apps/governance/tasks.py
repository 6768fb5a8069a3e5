"""Thin Celery entry points; the work lives in services, oracle and controller."""

from celery import shared_task
from django.db import OperationalError

from apps.governance import services


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True)
def log_checkpoint_task() -> int:
    return services.log_checkpoint_all()
