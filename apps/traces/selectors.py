"""Reads from the trace store. Every query starts from a project."""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from apps.tenancy.models import Project
from apps.traces import schema, tree
from apps.traces.models import Episode, Step

FILTERS = ("agent", "status", "environment", "tool", "has_violations", "since", "until", "q", "tag", "session")


def _texts(params: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The non-empty text parameters among `names`, each at most 500 characters."""
    out: dict[str, Any] = {}
    for name in names:
        value = (params.get(name) or "").strip()
        if value:
            if len(value) > 500:
                raise schema.InvalidInput(name, "longer than 500 characters")
            out[name] = value
    return out


def episode_filters_parse(params: Mapping[str, Any]) -> dict:
    """Validated filters from query parameters; unknown parameters are ignored (page, format...)."""
    out: dict[str, Any] = _texts(params, ("agent", "environment", "tool", "tag", "q", "session"))
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
    if "session" in f:
        qs = qs.filter(session=f["session"])
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


# The episode list's sortable columns: ?sort=<name> ascending, ?sort=-<name> descending.
SORTS = ("started", "duration", "steps", "tokens", "cost", "decisions", "violations", "status")
DEFAULT_SORT = "-started"


def sort_parse(value: str | None) -> str:
    value = (value or "").strip() or DEFAULT_SORT
    if value.lstrip("-") not in SORTS:
        raise schema.InvalidInput("sort", f"must be one of {', '.join(SORTS)}, optionally after '-'")
    return value


def episode_rows(*, project: Project, filters: Mapping[str, Any] | None = None,
                 sort: str = DEFAULT_SORT) -> QuerySet[Episode]:
    """episode_list with the list page's computed columns (duration, tokens, decisions), sorted.

    Decisions are counted through the partial index of decision steps, per row shown (or for
    every episode when sorting by them)."""
    decisions = (Step.objects.filter(episode_id=OuterRef("pk"), kind="decision").order_by()
                 .values("episode_id").annotate(n=Count("*")).values("n"))
    qs = episode_list(project=project, filters=filters).defer("task", "config", "outcome", "versions").annotate(
        duration=ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField()),
        tokens=F("tokens_in") + F("tokens_out"),
        decisions=Coalesce(Subquery(decisions, output_field=IntegerField()), 0),
    )
    name = sort.lstrip("-")
    column = {"started": "started_at", "steps": "step_count", "violations": "violation_count"}.get(name, name)
    if sort.startswith("-"):
        return qs.order_by(F(column).desc(nulls_last=True), "-id")
    return qs.order_by(F(column).asc(nulls_last=True), "id")


def episode_get(*, project: Project, external_id: str) -> Episode | None:
    return Episode.objects.filter(project=project, external_id=external_id).first()


def episode_by_id(*, project: Project, episode_id: int) -> Episode | None:
    return Episode.objects.filter(project=project, pk=episode_id).first()


def step_range(*, episode: Episode, start: int = 0, limit: int = 100) -> list[Step]:
    """Steps with index >= start, in order; uses the (episode, index) unique index."""
    return list(
        Step.objects.filter(episode_id=episode.pk, index__gte=start).defer("search").order_by("index")[:limit]
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


STEP_KINDS = ("message", "action", "observation", "decision")
VERDICTS = ("allow", "rewrite", "ask", "block", "terminate")
_YES, _NO = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = (params.get(name) or "").strip().lower()
    if value not in _YES + _NO:
        raise schema.InvalidInput(name, "must be true or false")
    return value in _YES


def step_filters_parse(params: Mapping[str, Any]) -> dict:
    """Filters inside one episode from query parameters: q (words in content, tool, error,
    arguments, result), kind, agent, tool, untrusted, errors, decision (any or a verdict)."""
    out: dict[str, Any] = _texts(params, ("q", "agent", "tool"))
    kind = (params.get("kind") or "").strip()
    if kind:
        if kind not in STEP_KINDS:
            raise schema.InvalidInput("kind", f"must be one of {', '.join(STEP_KINDS)}")
        out["kind"] = kind
    decision = (params.get("decision") or "").strip()
    if decision:
        if decision != "any" and decision not in VERDICTS:
            raise schema.InvalidInput("decision", f"must be any or one of {', '.join(VERDICTS)}")
        out["decision"] = decision
    for name in ("untrusted", "errors"):
        if _flag(params, name):
            out[name] = True
    return out


def step_search(*, episode: Episode, filters: Mapping[str, Any], start: int = 0, limit: int = 100) -> list[Step]:
    """Steps of the episode matching parsed step filters, index >= start, in order."""
    qs = Step.objects.filter(episode_id=episode.pk, index__gte=start)
    if "kind" in filters:
        qs = qs.filter(kind=filters["kind"])
    if "agent" in filters:
        qs = qs.filter(agent=filters["agent"])
    if "tool" in filters:
        qs = qs.filter(tool=filters["tool"])
    if filters.get("untrusted"):
        qs = qs.filter(provenance="untrusted")
    if filters.get("errors"):
        qs = qs.exclude(error="")
    if "decision" in filters:
        qs = qs.filter(kind="decision")
        if filters["decision"] != "any":
            qs = qs.filter(attributes__verdict=filters["decision"])
    if "q" in filters:
        qs = qs.filter(search=SearchQuery(filters["q"], config="english", search_type="websearch"))
    return list(qs.defer("search").order_by("index")[:limit])


def first_decision_steps(*, episode: Episode, limit: int = 200) -> list[Step]:
    return list(Step.objects.filter(episode_id=episode.pk, kind="decision").order_by("index")[:limit])


TREE_COLUMNS = ("index", "kind", "agent", "role", "tool", "span_id", "parent_span_id", "started_at", "ended_at",
                "tokens_in", "tokens_out", "cost", "error", "provenance")


def episode_tree(*, episode: Episode, max_nodes: int = 2000) -> tree.Tree:
    """The episode's span tree (see tree.py) from the columns it needs, not whole steps."""
    rows = (Step.objects.filter(episode_id=episode.pk).order_by("index")
            .values(*TREE_COLUMNS, verdict=KeyTextTransform("verdict", "attributes")))
    agent_spans = ((episode.config or {}).get("otel") or {}).get("agent_spans") or []
    return tree.build(rows.iterator(chunk_size=2000), agent_spans, max_nodes=max_nodes)


def session_episodes(*, project: Project, session: str) -> QuerySet[Episode]:
    """The episodes of one conversation, oldest first."""
    return Episode.objects.filter(project=project, session=session).order_by("started_at", "id")
