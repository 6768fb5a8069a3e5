"""Reads for violations. Every query is scoped to one project."""

from collections.abc import Mapping

from django.db.models import Count, QuerySet

from apps.reviews.models import Severity, Source, Status, Violation
from apps.tenancy.models import Project

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
