"""Reads for runs, always scoped to one project."""

from collections.abc import Mapping

from django.db.models import QuerySet

from apps.episodes.models import Run, RunStatus
from apps.tenancy.models import Project

FILTERS = ("status", "environment", "regime")


def run_list(*, project: Project, filters: Mapping[str, str] | None = None) -> QuerySet[Run]:
    filters = filters or {}
    qs = Run.objects.filter(project=project).select_related("episode")
    if filters.get("status") in RunStatus.values:
        qs = qs.filter(status=filters["status"])
    for name in ("environment", "regime"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    return qs.order_by("-created_at", "-id")


def run_get(*, project: Project, key: str) -> Run | None:
    return Run.objects.filter(project=project, key=key).select_related("episode").first()


def run_for_episode(*, project: Project, episode_id: int) -> Run | None:
    return Run.objects.filter(project=project, episode_id=episode_id).first()
