"""Celery entry points of the reviews app (queue `checks`). Thin: each calls services."""

from celery import shared_task
from django.db import OperationalError

from apps.core.fairness import run_fairly, time_limits

RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(bind=True, **RETRY, **time_limits("checks"))
def episode_steps_task(self, episode_id: int, first_index: int) -> None:
    """After a batch: blocked/terminated decisions become violations, then live runtime contracts see
    the new steps. One task per batch keeps the cost on the ingestion and /decide paths to one enqueue.
    Idempotent: violations are deduplicated and runtime state records how far checking got."""
    from apps.contracts.services import episode_check_runtime
    from apps.reviews.services import violations_from_decisions
    from apps.traces.models import Episode

    episode = Episode.objects.filter(pk=episode_id).first()
    if episode is None:
        return

    def work() -> None:
        violations_from_decisions(episode=episode, first_index=first_index)
        if episode.status == "running":
            episode_check_runtime(episode=episode)

    run_fairly(task=self, project_id=episode.project_id, args=[episode_id, first_index], work=work)
