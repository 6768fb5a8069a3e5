"""The project overview: a handful of counts a reviewer looks at first, each one indexed query."""

from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.db.models.functions import Trunc
from django.utils import timezone

from apps.audit.models import GovernanceLogEntry
from apps.audit.selectors import log_length, log_pending
from apps.audit.verification import governance_verify
from apps.governance.models import AgentState
from apps.policies.models import Approval, Decision, DecisionStatus
from apps.reviews.models import Violation
from apps.tenancy.models import Project
from apps.traces.models import Episode, EpisodeStatus

VERDICTS = ["allow", "rewrite", "ask", "block", "terminate"]


def project_summary(*, project: Project, days: int = 7) -> dict:
    since = timezone.now() - timedelta(days=days)
    episodes = dict(
        Episode.objects.filter(project=project).values_list("status").annotate(n=Count("id")).order_by()
    )
    verdicts = dict(
        Decision.objects.filter(project=project, created_at__gte=since)
        .values_list("verdict")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "days": days,
        "episodes": {
            "total": sum(episodes.values()),
            **{status: episodes.get(status, 0) for status in EpisodeStatus.values},
        },
        "decisions": {"total": sum(verdicts.values()), **{v: verdicts.get(v, 0) for v in VERDICTS}},
        "pending_approvals": Approval.objects.filter(project=project, status=DecisionStatus.PENDING).count(),
        "log": log_length(project=project),  # decisions still in the log's outbox count too
    }


# The time range picker: name -> (span, bucket of the time series).
RANGES = {"24h": (timedelta(hours=24), "hour"), "7d": (timedelta(days=7), "day"),
          "30d": (timedelta(days=30), "day"), "90d": (timedelta(days=90), "week")}
DEFAULT_RANGE = "7d"


def decisions_over_time(*, project: Project, since: datetime, bucket: str) -> list[dict]:
    """[{"at": bucket start, "verdict", "n"}] for decisions since `since` (the project/time index)."""
    rows = (Decision.objects.filter(project=project, created_at__gte=since)
            .annotate(at=Trunc("created_at", bucket)).values("at", "verdict").annotate(n=Count("id"))
            .order_by("at"))
    return [dict(row) for row in rows]


def top_blocked_tools(*, project: Project, since: datetime, limit: int = 10) -> list[dict]:
    """[{"tool", "n"}]: tools most often blocked or terminated since `since`."""
    return [dict(row) for row in Decision.objects.filter(project=project, created_at__gte=since,
                                                           verdict__in=["block", "terminate"])
            .values("tool").annotate(n=Count("id")).order_by("-n", "tool")[:limit]]


def decide_latency(*, project: Project, since: datetime) -> dict:
    """Percentiles of the decision service's own time per /decide (Decision.latency_us), in ms."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_us)"
            "  FROM policies_decision WHERE project_id = %s AND created_at >= %s", [project.pk, since])
        n, values = cursor.fetchone()
    p50, p95, p99 = (v / 1000 for v in values) if values else (None, None, None)
    return {"n": n, "p50": p50, "p95": p95, "p99": p99}


def violations_by_contract(*, project: Project, since: datetime, limit: int = 12) -> list[dict]:
    """[{"name", "source", "severity", "n"}] of violations found since `since`, the most frequent names."""
    rows: list[dict[str, Any]] = [dict(row) for row in Violation.objects.filter(project=project, created_at__gte=since)
            .values("source", "name", "severity").annotate(n=Count("id")).order_by()]
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        totals[(row["source"], row["name"])] = totals.get((row["source"], row["name"]), 0) + row["n"]
    kept = set(sorted(totals, key=lambda k: (-totals[k], k))[:limit])
    return [row for row in rows if (row["source"], row["name"]) in kept]


def agents_by_state(*, project: Project) -> list[dict]:
    """[{"state", "suspended", "n"}]: the project's agents by governance state now."""
    return [dict(row) for row in AgentState.objects.filter(project=project).values("state", "suspended")
            .annotate(n=Count("id")).order_by("state")]


def dashboard(*, project: Project, range_name: str) -> dict:
    span, bucket = RANGES[range_name]
    since = timezone.now() - span
    return {
        "range": range_name, "since": since, "bucket": bucket,
        "decisions": decisions_over_time(project=project, since=since, bucket=bucket),
        "blocked_tools": top_blocked_tools(project=project, since=since),
        "latency": decide_latency(project=project, since=since),
        "violations": violations_by_contract(project=project, since=since),
        "agents": agents_by_state(project=project),
    }


def log_status(*, project: Project) -> dict:
    """The governance log's verification (the whole chain walked), cached until the head moves.

    A read: it verifies what is chained and counts what waits in the outbox, chaining nothing.
    """
    head = GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values_list("seq", flat=True).first()
    key = f"dashboard:log-verify:{project.pk}:{head or 0}"
    found = cache.get(key)
    if found is None:
        report = governance_verify(project=project, chain_pending=False)
        found = {"ok": report.ok, "checked": report.checked, "head_seq": report.head_seq,
                 "broken_seq": report.broken_seq, "reason": report.reason, "at": timezone.now()}
        cache.set(key, found, 300)
    return {**found, "pending": log_pending(project=project)}
