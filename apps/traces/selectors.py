"""Reads from the trace store. Every query starts from a project."""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet

from apps.tenancy.models import Project
from apps.traces import schema
from apps.traces.models import Episode, Step

FILTERS = ("agent", "status", "environment", "tool", "has_violations", "since", "until", "q", "tag")


def episode_filters_parse(params: Mapping[str, Any]) -> dict:
    """Validated filters from query parameters; unknown parameters are ignored (page, format...)."""
    out: dict[str, Any] = {}
    for name in ("agent", "environment", "tool", "tag", "q"):
        value = (params.get(name) or "").strip()
        if value:
            if len(value) > 500:
                raise schema.InvalidInput(name, "longer than 500 characters")
            out[name] = value
    status = (params.get("status") or "").strip()
    if status:
        if status not in schema.STATUSES:
            raise schema.InvalidInput("status", f"must be one of {', '.join(schema.STATUSES)}")
        out["status"] = status
    violations = (params.get("has_violations") or "").strip().lower()
    if violations:
        if violations not in ("true", "false", "1", "0", "yes", "no"):
            raise schema.InvalidInput("has_violations", "must be true or false")
        out["has_violations"] = violations in ("true", "1", "yes")
    for name in ("since", "until"):
        value = (params.get(name) or "").strip()
        if value:
            out[name] = schema.parse_time(value.replace(" ", "+"), name)
            if name == "until" and len(value) == 10:
                # A bare date (the page's date input) means "up to the end of that day".
                out[name] += timedelta(days=1)
    return out


def episode_list(*, project: Project, filters: Mapping[str, Any] | None = None) -> QuerySet[Episode]:
    """Episodes of the project, newest first, narrowed by parsed filters (see episode_filters_parse)."""
    f = filters or {}
    qs = Episode.objects.filter(project=project)
    if "agent" in f:
        qs = qs.filter(agents__contains=[f["agent"]])
    if "tool" in f:
        qs = qs.filter(tools__contains=[f["tool"]])
    if "tag" in f:
        qs = qs.filter(tags__contains=[f["tag"]])
    if "status" in f:
        qs = qs.filter(status=f["status"])
    if "environment" in f:
        qs = qs.filter(environment=f["environment"])
    if "has_violations" in f:
        qs = qs.filter(violation_count__gt=0) if f["has_violations"] else qs.filter(violation_count=0)
    if "since" in f:
        qs = qs.filter(started_at__gte=f["since"])
    if "until" in f:
        qs = qs.filter(started_at__lt=f["until"])
    if "q" in f:
        matching = Step.objects.filter(
            project=project, search=SearchQuery(f["q"], config="english", search_type="websearch")
        ).values("episode_id")
        qs = qs.filter(id__in=matching)
    return qs.order_by("-started_at", "-id")


def episode_get(*, project: Project, external_id: str) -> Episode | None:
    return Episode.objects.filter(project=project, external_id=external_id).first()


def episode_by_id(*, project: Project, episode_id: int) -> Episode | None:
    return Episode.objects.filter(project=project, pk=episode_id).first()


def step_range(*, episode: Episode, start: int = 0, limit: int = 100) -> list[Step]:
    """Steps with index >= start, in order; uses the (episode, index) unique index."""
    return list(
        Step.objects.filter(episode_id=episode.pk, index__gte=start).order_by("index")[:limit]
    )


def episode_steps_iter(*, episode: Episode, chunk: int = 2000) -> Iterator[Step]:
    """Every step in order, fetched in keyset chunks so memory stays flat for huge episodes."""
    start = 0
    while True:
        steps = step_range(episode=episode, start=start, limit=chunk)
        yield from steps
        if len(steps) < chunk:
            return
        start = steps[-1].index + 1


def first_decision_steps(*, episode: Episode, limit: int = 200) -> list[Step]:
    return list(Step.objects.filter(episode_id=episode.pk, kind="decision").order_by("index")[:limit])
