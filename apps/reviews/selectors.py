"""Reads for violations. Every query is scoped to one project."""

from collections.abc import Mapping

from django.db.models import Count, QuerySet

from apps.policies.models import Decision
from apps.reviews.models import Severity, Source, Status, Violation
from apps.tenancy.models import Project
from apps.traces.models import Provenance, Step

FILTERS = ("status", "severity", "source", "agent", "name", "episode", "assignee")


def violation_list(*, project: Project, filters: Mapping[str, str] | None = None) -> QuerySet[Violation]:
    """Filters: status, severity, source, agent, name (exact), episode (external id), assignee (username)."""
    filters = filters or {}
    qs = Violation.objects.filter(project=project).select_related("episode", "assignee")
    if filters.get("status") in Status.values:
        qs = qs.filter(status=filters["status"])
    if filters.get("severity") in Severity.values:
        qs = qs.filter(severity=filters["severity"])
    if filters.get("source") in Source.values:
        qs = qs.filter(source=filters["source"])
    if filters.get("agent"):
        qs = qs.filter(agent=filters["agent"])
    if filters.get("name"):
        qs = qs.filter(name=filters["name"])
    if filters.get("episode"):
        qs = qs.filter(episode__external_id=filters["episode"])
    if filters.get("assignee"):
        qs = qs.filter(assignee__username=filters["assignee"])
    return qs.order_by("-created_at", "-id")


def violation_get(*, project: Project, violation_id: int) -> Violation | None:
    return Violation.objects.filter(project=project, pk=violation_id).select_related("episode", "assignee").first()


def violation_counts(*, project: Project) -> dict:
    """For governance evidence and dashboards: counts by severity, by agent, by status and by source."""
    qs = Violation.objects.filter(project=project)

    def by(field: str) -> dict:
        return {row[field]: row["n"] for row in qs.values(field).annotate(n=Count("id")).order_by(field)}

    return {"by_severity": by("severity"), "by_agent": by("agent"), "by_status": by("status"), "by_source": by("source")}


def violation_story(*, violation: Violation) -> dict:
    """Everything the violation page needs to answer what happened, why, and from which input.

    The decision that stopped the call (its message, arguments before and after, the failed
    constraint), the violating step, and the untrusted input behind it: the step the refused value
    first appeared in (the provenance finding), else the last untrusted step before the violation.
    """
    decision = None
    decision_id = (violation.evidence or {}).get("decision_id")
    if decision_id:
        decision = Decision.objects.filter(project_id=violation.project_id, pk=decision_id).first()
    steps = Step.objects.filter(project_id=violation.project_id, episode_id=violation.episode_id)
    at = violation.first_step_index
    step = steps.filter(index=at).first() if at is not None else None
    finding = (violation.evidence or {}).get("finding") or ((decision.evidence or {}).get("finding") if decision else None)
    tainted_by = None
    if finding and finding.get("step") is not None:
        tainted_by = steps.filter(index=finding["step"]).first()
    elif at is not None:
        tainted_by = steps.filter(index__lt=at, provenance=Provenance.UNTRUSTED).order_by("-index").first()
    detail = (decision.evidence or {}).get("detail") if decision else (violation.evidence or {}).get("detail")
    return {"decision": decision, "step": step, "tainted_by": tainted_by, "finding": finding, "detail": detail,
            "comments": list(violation.comments.select_related("author"))}
