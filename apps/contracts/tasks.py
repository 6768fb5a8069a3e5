"""Celery entry points for contract checks (queue `checks`). Thin: each calls one service."""

from celery import shared_task
from django.db import OperationalError

from apps.contracts import services, whatif
from apps.reviews import services as reviews
from apps.traces.models import Episode

RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(bind=True, **RETRY)
def episode_check_task(self, episode_id: int) -> None:
    """Checks an ended episode against every active contract. Idempotent: verdicts are replaced."""
    episode = Episode.objects.filter(pk=episode_id).first()
    if episode is not None:
        services.episode_check(episode=episode)


@shared_task(bind=True, **RETRY)
def episode_steps_task(self, episode_id: int, first_index: int) -> None:
    """After a batch: blocked/terminated decisions become violations, then live runtime contracts see
    the new steps. One task per batch keeps the cost on the ingestion and /decide paths to one enqueue.
    Idempotent: violations are deduplicated and runtime state records how far checking got."""
    episode = Episode.objects.filter(pk=episode_id).first()
    if episode is None:
        return
    reviews.violations_from_decisions(episode=episode, first_index=first_index)
    if episode.status == "running":
        services.episode_check_runtime(episode=episode)


@shared_task(bind=True, **RETRY)
def whatif_run_task(self, job_id: int) -> None:
    whatif.whatif_run(job_id=job_id)
