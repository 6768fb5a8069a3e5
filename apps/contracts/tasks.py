"""Celery entry points for contract checks (queue `checks`). Thin: each calls one service, imported in
the task body so services may import this module to enqueue."""

from celery import shared_task
from django.db import OperationalError

from apps.core.fairness import run_fairly, time_limits

RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(bind=True, **RETRY, **time_limits("checks"))
def episode_check_task(self, episode_id: int) -> None:
    """Checks an ended episode against every active contract. Idempotent: verdicts are replaced."""
    from apps.contracts import services
    from apps.traces.models import Episode

    episode = Episode.objects.filter(pk=episode_id).first()
    if episode is not None:
        run_fairly(task=self, project_id=episode.project_id, args=[episode_id],
                   work=lambda: services.episode_check(episode=episode))


@shared_task(bind=True, **RETRY, **time_limits("whatif"))
def whatif_run_task(self, job_id: int) -> None:
    from apps.contracts import whatif
    from apps.contracts.models import WhatIfJob

    project_id = WhatIfJob.objects.filter(pk=job_id).values_list("project_id", flat=True).first()
    if project_id is not None:
        run_fairly(task=self, project_id=project_id, args=[job_id], kind="whatif",
                   work=lambda: whatif.whatif_run(job_id=job_id))


@shared_task(bind=True, **RETRY)
def whatif_sweep_task(self) -> int:
    """Restarts what-if jobs whose worker was lost (or fails them after a few tries)."""
    from apps.contracts import whatif

    return whatif.whatif_sweep()
