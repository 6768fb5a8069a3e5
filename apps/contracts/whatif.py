"""What-if: deterministic replay of stored episodes against another contract or policy version.

A job re-checks a filtered set of episodes (or the last N) and keeps only what would change:
verdicts (contract what-if) or decisions (policy what-if). It reports progress as it goes and
stops at the next episode boundary when cancelled; partial results are kept.

A running job heartbeats. One whose heartbeat is older than STALE_SECONDS lost its worker (killed,
or the message was redelivered to a worker that is gone): `whatif_sweep` starts it again from the
beginning, at most MAX_ATTEMPTS times, then marks it failed. Such a job can always be cancelled.
"""

import time
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from apps.contracts import engine, tasks
from apps.contracts.models import JobStatus, WhatIfJob
from apps.contracts.selectors import version_get
from apps.contracts.services import compiled, contract_validate, episode_steps
from apps.core.outbox import task_enqueue
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project
from apps.traces.models import Episode, EpisodeStatus

PROGRESS_EVERY = 10
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0
MAX_ATTEMPTS = 3
MAX_RESULTS = 1000
FILTER_KEYS = ("status", "environment", "agent", "tag")


def _filters(filters: dict | None) -> dict:
    filters = dict(filters or {})
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValidationError({"filters": [f"unknown filter '{sorted(unknown)[0]}' (use {', '.join(FILTER_KEYS)})"]})
    if "status" in filters and filters["status"] not in EpisodeStatus.values:
        raise ValidationError({"filters": [f"status must be one of {', '.join(EpisodeStatus.values)}"]})
    return {k: str(v) for k, v in filters.items() if v not in (None, "")}


def episodes_for(*, project: Project, filters: dict, last: int | None) -> QuerySet[Episode]:
    qs = Episode.objects.filter(project=project)
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("environment"):
        qs = qs.filter(environment=filters["environment"])
    if filters.get("agent"):
        qs = qs.filter(agents__contains=[filters["agent"]])
    if filters.get("tag"):
        qs = qs.filter(tags__contains=[filters["tag"]])
    qs = qs.order_by("-started_at", "-id")
    return qs[:last] if last else qs


@transaction.atomic
def whatif_create(*, project: Project, actor: Actor, kind: str = WhatIfJob.KIND_CONTRACT, source: str | None = None,
                  contract: str | None = None, version: str | None = None, filters: dict | None = None,
                  last: int | None = None) -> WhatIfJob:
    """Queues a job. The candidate is `source` (unpublished YAML) or a published `contract`+`version`.

    For a contract, the baseline is the contract's current version (if the name exists). For
    kind="policy", `source` is a policy and the baseline is each recorded decision.
    """
    actor = actor_name(actor)
    filters = _filters(filters)
    if last is not None and (not isinstance(last, int) or last < 1):
        raise ValidationError({"last": ["must be a positive integer"]})
    if kind == WhatIfJob.KIND_POLICY:
        from apps.policies import engine as policy_engine

        if not source:
            raise ValidationError({"source": ["a policy what-if needs the candidate policy source"]})
        try:
            policy = policy_engine.compile_policy(source)
        except policy_engine.PolicyError as exc:
            raise ValidationError({"source": [str(i) for i in exc.issues]}) from None
        name, digest, baseline = policy.name or "policy", policy.digest, None
    elif kind == WhatIfJob.KIND_CONTRACT:
        if source:
            candidate = contract_validate(source=source)
        elif contract:
            found = version_get(project=project, name=contract, ref=version)
            if found is None:
                raise ValidationError({"version": [f"no version '{version or 'current'}' of contract '{contract}'"]})
            source, candidate = found.source, compiled(found)
        else:
            raise ValidationError({"source": ["give the candidate contract source, or contract and version"]})
        name, digest = candidate.name, candidate.digest
        baseline = version_get(project=project, name=name)
    else:
        raise ValidationError({"kind": ["must be contract or policy"]})
    job = WhatIfJob.objects.create(
        project=project, kind=kind, contract_name=name, candidate_source=source, candidate_digest=digest,
        baseline=baseline, filters=filters, last=last, created_by=actor,
    )
    _enqueue_run(job_id=job.pk)
    return job


def _enqueue_run(*, job_id: int) -> None:
    task_enqueue(task=tasks.whatif_run_task, args=[job_id])


def _stale(now) -> Q:
    """A running job nobody is working on: no heartbeat for STALE_SECONDS."""
    return Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__isnull=True)
                                          | Q(heartbeat_at__lt=now - timedelta(seconds=STALE_SECONDS)))


def whatif_cancel(*, job: WhatIfJob) -> WhatIfJob:
    """Stops a job: a queued one, or a running one whose worker is gone, at once; a running one at
    its next episode boundary, keeping its results."""
    now = timezone.now()
    WhatIfJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(cancel_requested=True)
    WhatIfJob.objects.filter(Q(status=JobStatus.QUEUED) | _stale(now), pk=job.pk).update(
        status=JobStatus.CANCELLED, finished_at=now)
    job.refresh_from_db()
    return job


@transaction.atomic
def whatif_sweep() -> int:
    """Restarts running jobs whose worker is gone, or fails those restarted MAX_ATTEMPTS times.

    Returns how many were restarted. A cancelled one is marked cancelled instead.
    """
    now = timezone.now()
    stale = WhatIfJob.objects.select_for_update(skip_locked=True).filter(_stale(now))
    stale.filter(cancel_requested=True).update(status=JobStatus.CANCELLED, finished_at=now)
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=JobStatus.FAILED, finished_at=now,
        error=f"the worker running this job was lost {MAX_ATTEMPTS} times; giving up")
    restarted = list(stale.values_list("pk", flat=True))
    for job_id in restarted:
        _enqueue_run(job_id=job_id)
    # The restart must not be claimed by the sweep itself again before a worker takes it.
    WhatIfJob.objects.filter(pk__in=restarted).update(status=JobStatus.QUEUED)
    return len(restarted)


def _claim(job_id: int) -> bool:
    """Takes the job for this worker: a queued one, or a running one whose worker is gone. A
    second delivery of a job that is still running elsewhere leaves it alone."""
    now = timezone.now()
    return bool(WhatIfJob.objects.filter(Q(status=JobStatus.QUEUED) | _stale(now), pk=job_id,
                                         cancel_requested=False)
                .update(status=JobStatus.RUNNING, heartbeat_at=now, attempts=F("attempts") + 1))


def _contract_diff(job: WhatIfJob, episode: Episode, checkers: list[engine.Contract]) -> tuple[dict | None, int, dict]:
    ended = episode.status != EpisodeStatus.RUNNING
    results = engine.check_many(checkers, episode_steps(episode=episode), ended=ended)
    after = results[-1]
    before = results[0] if len(results) == 2 else None
    row = None
    if before is None or (before.status, before.first_violating_step) != (after.status, after.first_violating_step):
        row = {"episode": episode.pk, "external_id": episode.external_id,
               "before": before.status if before else None,
               "first_before": before.first_violating_step if before else None,
               "after": after.status, "first_after": after.first_violating_step,
               "status_changed": before is None or before.status != after.status,
               "evidence": after.evidence[:3]}
        if before is None and after.status == engine.PASS:
            row = None  # a new contract that passes everywhere changes nothing worth listing
    return row, after.steps_checked, {"before": before.status if before else None, "after": after.status}


def _policy_diff(job: WhatIfJob, episode: Episode, policy) -> tuple[dict | None, int, dict]:
    """Each recorded decision decided again under `policy`, with the context it had live: call
    counts, untrusted content read, and the provenance index of the steps before it."""
    from apps.policies.replay import EpisodeReplay

    replay = EpisodeReplay(policy=policy, environment=episode.environment)
    changes, decided, n = [], 0, 0
    tally: dict = {"before": {}, "after": {}}
    action: dict | None = None
    for step in episode_steps(episode=episode):
        n += 1
        if step["kind"] == "action":
            action = step
        elif step["kind"] == "decision":
            decided += 1
            attributes = step["attributes"] or {}
            recorded = attributes.get("verdict")
            call = step
            if action is not None and attributes.get("action_index") == action["index"]:
                call = {**step, "arguments": action["arguments"]}  # the runner stores what ran; decide what was asked
            verdict = replay.decide(call)
            tally["before"][recorded] = tally["before"].get(recorded, 0) + 1
            tally["after"][verdict.verdict] = tally["after"].get(verdict.verdict, 0) + 1
            if verdict.verdict != recorded:
                changes.append({"step": step["index"], "tool": step["tool"], "agent": step["agent"],
                                "before": recorded, "after": verdict.verdict, "rule": verdict.rule,
                                "detail": verdict.detail})
        replay.add(step)
    row = None
    if changes:
        row = {"episode": episode.pk, "external_id": episode.external_id, "decisions": decided,
               "changed_decisions": changes[:50], "before": changes[0]["before"], "after": changes[0]["after"],
               "first_before": changes[0]["step"], "first_after": changes[0]["step"]}
    return row, n, tally


def _merge_tally(summary: dict, tally: dict) -> None:
    for side in ("before", "after"):
        bucket = summary.setdefault(side, {})
        value = tally.get(side)
        if isinstance(value, dict):
            for k, v in value.items():
                bucket[str(k)] = bucket.get(str(k), 0) + v
        elif value is not None:
            bucket[value] = bucket.get(value, 0) + 1


def whatif_run(*, job_id: int) -> WhatIfJob | None:
    """Runs the job. Idempotent: a finished job, or one running in a live worker, is left as it
    is; a job whose worker was lost starts over from scratch, so results never count an episode
    twice."""
    WhatIfJob.objects.filter(pk=job_id, status=JobStatus.QUEUED, cancel_requested=True).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now())
    claimed = _claim(job_id)
    job = WhatIfJob.objects.filter(pk=job_id).first()
    if job is None or not claimed:
        return job
    if job.kind == WhatIfJob.KIND_POLICY:
        from apps.policies import engine as pe

        subject = pe.compile_policy(job.candidate_source)
        diff = _policy_diff
    else:
        candidate = engine.compile_source(job.candidate_source)
        subject = ([compiled(job.baseline)] if job.baseline else []) + [candidate]
        diff = _contract_diff
    ids = list(episodes_for(project=job.project, filters=job.filters, last=job.last).values_list("id", flat=True))
    job.started_at, job.total, job.done, job.changed = timezone.now(), len(ids), 0, 0
    job.results, job.summary, job.error = [], {"before": {}, "after": {}, "steps": 0}, ""
    job.save()
    beat = time.monotonic()
    try:
        for n, episode_id in enumerate(ids, start=1):
            episode = Episode.objects.filter(pk=episode_id).first()
            if episode is not None:
                row, steps, tally = diff(job, episode, subject)
                job.summary["steps"] += steps
                _merge_tally(job.summary, tally)
                if row is not None:
                    job.changed += 1
                    if len(job.results) < MAX_RESULTS:
                        job.results.append(row)
            job.done = n
            if n % PROGRESS_EVERY == 0 or n == len(ids) or time.monotonic() - beat > HEARTBEAT_SECONDS:
                beat, job.heartbeat_at = time.monotonic(), timezone.now()
                job.save(update_fields=["done", "changed", "results", "summary", "heartbeat_at"])
                if WhatIfJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                    job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
                    job.save(update_fields=["status", "finished_at"])
                    return job
    except OperationalError:
        raise  # the database went away: the task retries and the job starts over
    except Exception as exc:  # a broken job reports why instead of staying "running" forever
        job.status, job.error, job.finished_at = JobStatus.FAILED, f"{type(exc).__name__}: {exc}", timezone.now()
        job.save()
        raise
    job.status, job.finished_at = JobStatus.DONE, timezone.now()
    job.save()
    return job
