"""Reads: an episode's grades, queues with their progress, the export of grades."""

from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.annotations.models import Annotation, AnnotationQueue, QueueItem
from apps.tenancy.models import Project
from apps.traces.models import Episode

EXPORT_COLUMNS = ("episode", "episode_id", "step_index", "name", "value", "label", "comment", "source", "queue",
                  "created_at", "id")


def episode_annotations(*, episode: Episode) -> QuerySet[Annotation]:
    return Annotation.objects.filter(episode=episode).select_related("queue")


def queue_list(*, project: Project) -> QuerySet[AnnotationQueue]:
    return AnnotationQueue.objects.filter(project=project).annotate(
        total=Count("items"), done=Count("items", filter=Q(items__done=True)))


def queue_get(*, project: Project, queue_id: int) -> AnnotationQueue | None:
    return AnnotationQueue.objects.filter(project=project, pk=queue_id).first()


def queue_next(*, queue: AnnotationQueue, after: int | None = None) -> QueueItem | None:
    """The first pending item (after the given episode's, if any, so "skip" moves on)."""
    pending = QueueItem.objects.filter(queue=queue, done=False).order_by("id")
    if after is not None:
        later = pending.filter(id__gt=QueueItem.objects.filter(queue=queue, episode_id=after).values("id")[:1]).first()
        if later is not None:
            return later
    return pending.first()


def queue_items(*, queue: AnnotationQueue, limit: int = 500) -> QuerySet[QueueItem]:
    return QueueItem.objects.filter(queue=queue).select_related("episode", "done_by")[:limit]


def annotation_list(*, project: Project, filters: Mapping[str, Any]) -> QuerySet[Annotation]:
    """Grades of the project, filtered by episode (external id), name or queue (id)."""
    qs = Annotation.objects.filter(project=project).select_related("episode", "queue").order_by("id")
    if filters.get("episode"):
        qs = qs.filter(episode__external_id=filters["episode"])
    if filters.get("name"):
        qs = qs.filter(name=filters["name"])
    if filters.get("queue"):
        qs = qs.filter(queue_id=filters["queue"])
    return qs


def annotation_row(a: Annotation) -> dict[str, Any]:
    return {"id": a.pk, "episode": a.episode.external_id, "episode_id": a.episode_id, "step_index": a.step_index, "name": a.name,
            "value": a.value, "label": a.label, "comment": a.comment, "source": a.source,
            "queue": a.queue.name if a.queue else None, "created_at": a.created_at.isoformat()}


def export_rows(*, project: Project, filters: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for a in annotation_list(project=project, filters=filters).iterator(chunk_size=2000):
        yield annotation_row(a)
