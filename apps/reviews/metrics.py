"""Trace metrics, per episode and aggregated: task success, termination reliability, contract
compliance, containment and the governance-outcome distribution. Reads only (selectors)."""

from collections.abc import Mapping
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.contracts.models import Verdict
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


def _containment(violations, *, checked: bool) -> dict:
    """Contained: stopped before the effect (a blocked/terminated decision, or a runtime contract that
    terminated the episode). Escaped: a contract violation found only after the action ran.

    Only contracts find escapes: where none checked the episodes the rate is unknown (None, with
    the reason), not 1.0 because nothing was seen to escape.
    """
    contained = escaped = 0
    for source, evidence in violations:
        if source == Source.POLICY or (evidence or {}).get("contained"):
            contained += 1
        else:
            escaped += 1
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
        "containment": _containment(Violation.objects.filter(episode=episode).values_list("source", "evidence"),
                                    checked=passed + failed > 0),
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
    `environment` or `agent`. Also a per-day series for charts."""
    filters = filters or {}
    days = _window(filters)
    since = timezone.now() - timedelta(days=days)
    episodes = Episode.objects.filter(project=project, started_at__gte=since)
    if filters.get("environment"):
        episodes = episodes.filter(environment=filters["environment"])
    if filters.get("agent"):
        episodes = episodes.filter(agents__contains=[filters["agent"]])
    e = episodes.aggregate(
        total=Count("id"),
        ended=Count("id", filter=~Q(status=EpisodeStatus.RUNNING)),
        ended_well=Count("id", filter=Q(status__in=ENDED_WELL)),
        judged=Count("id", filter=Q(outcome__success__in=[True, False])),
        succeeded=Count("id", filter=Q(outcome__success=True)),
    )
    ids = episodes.values("id")
    verdicts = dict(
        Verdict.objects.filter(project=project, episode_id__in=ids)
        .values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    passed, failed = verdicts.get("pass", 0), verdicts.get("fail", 0)
    outcomes = _outcomes(
        Step.objects.filter(project=project, episode_id__in=ids, kind="decision")
        .values_list("attributes__verdict").annotate(n=Count("id")).values_list("attributes__verdict", "n")
    )
    containment = _containment(
        Violation.objects.filter(project=project, episode_id__in=ids).values_list("source", "evidence"),
        checked=passed + failed > 0,
    )
    daily_outcomes: dict[str, dict] = {}
    for day, verdict, n in (
        Step.objects.filter(project=project, episode_id__in=ids, kind="decision")
        .annotate(day=TruncDate("episode__started_at"))
        .values_list("day", "attributes__verdict").annotate(n=Count("id")).values_list("day", "attributes__verdict", "n")
    ):
        daily_outcomes.setdefault(day.isoformat(), dict.fromkeys(OUTCOMES, 0))[str(verdict)] = n
    daily_compliance: dict[str, float | None] = {}
    for day, p, f in (
        Verdict.objects.filter(project=project, episode_id__in=ids)
        .annotate(day=TruncDate("episode__started_at")).values("day")
        .annotate(p=Count("id", filter=Q(status="pass")), f=Count("id", filter=Q(status="fail")))
        .values_list("day", "p", "f")
    ):
        daily_compliance[day.isoformat()] = _rate(p, p + f)
    by_contract = {}
    for name, p, f, i in (
        Verdict.objects.filter(project=project, episode_id__in=ids).values("version__contract__name")
        .annotate(p=Count("id", filter=Q(status="pass")), f=Count("id", filter=Q(status="fail")),
                  i=Count("id", filter=Q(status="inconclusive")))
        .values_list("version__contract__name", "p", "f", "i").order_by("version__contract__name")
    ):
        by_contract[name] = {"pass": p, "fail": f, "inconclusive": i, "compliance_rate": _rate(p, p + f)}
    days_seen = sorted(set(daily_outcomes) | set(daily_compliance))
    return {
        "window_days": days,
        "episodes": e["total"],
        "ended": e["ended"],
        "task_success_rate": _rate(e["succeeded"], e["judged"]),
        "termination_reliability": _rate(e["ended_well"], e["ended"]),
        "verdicts": {"pass": passed, "fail": failed, "inconclusive": verdicts.get("inconclusive", 0)},
        "compliance_rate": _rate(passed, passed + failed),
        "by_contract": by_contract,
        "containment": containment,
        "governance_outcomes": outcomes,
        "series": [{"day": d, "outcomes": daily_outcomes.get(d, dict.fromkeys(OUTCOMES, 0)),
                    "compliance_rate": daily_compliance.get(d)} for d in days_seen],
    }
