"""Trace metrics, per episode and aggregated: task success, termination reliability, contract
compliance, containment and the governance-outcome distribution. Reads only (selectors)."""

from collections.abc import Mapping
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.contracts.models import ContractVersion, Verdict
from apps.reviews.models import Source, Violation
from apps.tenancy.models import Project
from apps.traces.models import Episode, EpisodeStatus, Step

OUTCOMES = ("allow", "rewrite", "ask", "block", "terminate")
ENDED_WELL = (EpisodeStatus.COMPLETED, EpisodeStatus.TERMINATED)
DEFAULT_DAYS = 30
MAX_DAYS = 366


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _outcomes(rows) -> dict:
    dist = dict.fromkeys(OUTCOMES, 0)
    for verdict, n in rows:
        if verdict is not None:
            dist[str(verdict)] = dist.get(str(verdict), 0) + n
    return dist


UNMEASURED = "no contract checked these episodes, so violations that got through could not be counted"


def _containment(violations: QuerySet[Violation], *, checked: bool) -> dict:
    """Contained: stopped before the effect (a blocked/terminated decision, or a runtime contract that
    terminated the episode). Escaped: a contract violation found only after the action ran.

    Only contracts find escapes: where none checked the episodes the rate is unknown (None, with
    the reason), not 1.0 because nothing was seen to escape. Counted in SQL: the violations'
    evidence is never read into Python.
    """
    counts = violations.aggregate(contained=Count("id", filter=Q(source=Source.POLICY) | Q(evidence__contained=True)),
                                  total=Count("id"))
    contained, escaped = counts["contained"], counts["total"] - counts["contained"]
    rate = _rate(contained, contained + escaped) if checked else None
    return {"contained": contained, "escaped": escaped, "rate": rate, "measured": checked,
            "unknown_because": None if checked else UNMEASURED}


def episode_metrics(*, episode: Episode) -> dict:
    verdicts = dict(
        Verdict.objects.filter(episode=episode).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    passed, failed = verdicts.get("pass", 0), verdicts.get("fail", 0)
    outcomes = _outcomes(
        Step.objects.filter(episode=episode, kind="decision")
        .values_list("attributes__verdict").annotate(n=Count("id")).values_list("attributes__verdict", "n")
    )
    success = (episode.outcome or {}).get("success")
    return {
        "episode": episode.external_id,
        "status": episode.status,
        "task_success": success if isinstance(success, bool) else None,
        "terminated_reliably": None if episode.status == EpisodeStatus.RUNNING else episode.status in ENDED_WELL,
        "verdicts": {"pass": passed, "fail": failed, "inconclusive": verdicts.get("inconclusive", 0)},
        "compliance_rate": _rate(passed, passed + failed),
        "containment": _containment(Violation.objects.filter(episode=episode), checked=passed + failed > 0),
        "governance_outcomes": outcomes,
        "steps": episode.step_count,
    }


def _window(filters: Mapping[str, str]) -> int:
    try:
        days = int(filters.get("days") or DEFAULT_DAYS)
    except ValueError:
        days = DEFAULT_DAYS
    return max(1, min(days, MAX_DAYS))


def project_metrics(*, project: Project, filters: Mapping[str, str] | None = None) -> dict:
    """Aggregates over the project's episodes started in the last `days` (default 30), optionally one
    `environment` or `agent`. Also a per-day series for charts.

    Five queries, whatever the number of rows: the episodes; the decision steps by day and verdict
    (the totals are the days' sums); the verdicts by day, contract version and status (totals, daily
    compliance and the per-contract table from the same rows) and the versions' names; the
    violations counted contained or escaped in SQL (their evidence is never read into Python)."""
    filters = filters or {}
    days = _window(filters)
    since = timezone.now() - timedelta(days=days)
    # The episodes' conditions, for the episodes themselves and (as `episode__...`) for the rows that
    # join them once: no separate `IN (episode ids)` semi-join beside the join that reads the day.
    where: dict[str, object] = {"started_at__gte": since}
    if filters.get("environment"):
        where["environment"] = filters["environment"]
    if filters.get("agent"):
        where["agents__contains"] = [filters["agent"]]
    joined = {f"episode__{k}": v for k, v in where.items()}
    e = Episode.objects.filter(project=project, **where).aggregate(
        total=Count("id"),
        ended=Count("id", filter=~Q(status=EpisodeStatus.RUNNING)),
        ended_well=Count("id", filter=Q(status__in=ENDED_WELL)),
        judged=Count("id", filter=Q(outcome__success__in=[True, False])),
        succeeded=Count("id", filter=Q(outcome__success=True)),
    )
    if not e["total"]:
        return _project_metrics(days, e, [], [], Violation.objects.none())
    day = TruncDate("episode__started_at")
    steps = list(
        Step.objects.filter(project=project, kind="decision", **joined).annotate(day=day, verdict=KT("attributes__verdict"))
        .values_list("day", "verdict").annotate(n=Count("id")).values_list("day", "verdict", "n")
    )
    # Grouped by version id, named after: 3 versions' names, not a name per verdict row.
    by_version = list(
        Verdict.objects.filter(project=project, **joined).annotate(day=day)
        .values_list("day", "version_id", "status").annotate(n=Count("id")).values_list("day", "version_id", "status", "n")
    )
    names = dict(ContractVersion.objects.filter(pk__in={row[1] for row in by_version})
                 .values_list("pk", "contract__name"))
    verdicts = [(d, names[version], status, n) for d, version, status, n in by_version]
    violations = Violation.objects.filter(project=project, **joined)
    return _project_metrics(days, e, steps, verdicts, violations)


def _project_metrics(days: int, e: dict, steps: list, verdicts: list, violations: QuerySet[Violation]) -> dict:
    """The page's figures from the grouped rows of project_metrics."""
    daily_outcomes: dict[str, dict] = {}
    for day, verdict, n in steps:
        if verdict is not None:
            row = daily_outcomes.setdefault(day.isoformat(), dict.fromkeys(OUTCOMES, 0))
            row[str(verdict)] = row.get(str(verdict), 0) + n
    outcomes = _outcomes((verdict, n) for row in daily_outcomes.values() for verdict, n in row.items())
    totals: dict[str, int] = {}
    daily: dict[str, dict[str, int]] = {}
    contracts: dict[str, dict[str, int]] = {}
    for day, name, status, n in verdicts:
        for bucket in (totals, daily.setdefault(day.isoformat(), {}), contracts.setdefault(name, {})):
            bucket[status] = bucket.get(status, 0) + n
    passed, failed = totals.get("pass", 0), totals.get("fail", 0)
    daily_compliance = {d: _rate(c.get("pass", 0), c.get("pass", 0) + c.get("fail", 0)) for d, c in daily.items()}
    by_contract = {
        name: {"pass": c.get("pass", 0), "fail": c.get("fail", 0), "inconclusive": c.get("inconclusive", 0),
               "compliance_rate": _rate(c.get("pass", 0), c.get("pass", 0) + c.get("fail", 0))}
        for name, c in sorted(contracts.items())
    }
    containment = _containment(violations, checked=passed + failed > 0)
    days_seen = sorted(set(daily_outcomes) | set(daily_compliance))
    return {
        "window_days": days,
        "episodes": e["total"],
        "ended": e["ended"],
        "task_success_rate": _rate(e["succeeded"], e["judged"]),
        "termination_reliability": _rate(e["ended_well"], e["ended"]),
        "verdicts": {"pass": passed, "fail": failed, "inconclusive": totals.get("inconclusive", 0)},
        "compliance_rate": _rate(passed, passed + failed),
        "by_contract": by_contract,
        "containment": containment,
        "governance_outcomes": outcomes,
        "series": [{"day": d, "outcomes": daily_outcomes.get(d, dict.fromkeys(OUTCOMES, 0)),
                    "compliance_rate": daily_compliance.get(d)} for d in days_seen],
    }
