from celery import shared_task
from django.db import OperationalError

from apps.core import outbox


@shared_task
def ping(marker_path: str | None = None) -> str:
    """Proves a worker is consuming: writes `pong` to marker_path when given."""
    if marker_path:
        with open(marker_path, "w") as fh:
            fh.write("pong")
    return "pong"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def outbox_sweep_task() -> int:
    """Publishes again promised tasks that have not succeeded within their lease."""
    return outbox.outbox_sweep()
