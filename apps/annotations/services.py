"""Writes: grades, queues, queue progress. Errors are ValidationError naming the field."""

import math
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.annotations.models import Annotation, AnnotationQueue, QueueItem
from apps.tenancy.actors import Actor, actor_user
from apps.tenancy.models import Project
from apps.traces.models import Episode

MAX_QUEUE_ADD = 5000


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: ["This field is required."]})
    if len(value) > limit:
        raise ValidationError({field: [f"At most {limit} characters."]})
    return value


def annotation_create(*, project: Project, episode: Episode, name: str, value: float | None = None,
                      label: str = "", comment: str = "", step_index: int | None = None, author=None,
                      source: str, queue: AnnotationQueue | None = None) -> Annotation:
    """One grade on the episode (or one of its steps): a score, a label, or both."""
    if episode.project_id != project.pk:
        raise ValidationError({"episode": ["No such episode in this project."]})
    name = _text(name, "name", 100, required=True)
    label = _text(label, "label", 100)
    comment = _text(comment, "comment", 10_000)
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)):
        raise ValidationError({"value": ["A finite number."]})
    if value is None and not label:
        raise ValidationError({"value": ["Give a score (value), a label, or both."]})
    if step_index is not None and not 0 <= step_index < max(episode.step_count, 1):
        raise ValidationError({"step_index": [f"The episode has steps 0 to {episode.step_count - 1}."]})
    if queue is not None and queue.project_id != project.pk:
        raise ValidationError({"queue": ["No such queue in this project."]})
    return Annotation.objects.create(project=project, episode=episode, step_index=step_index, name=name,
                                     value=value, label=label, comment=comment,
                                     author=author if getattr(author, "pk", None) else None,
                                     source=source[:120], queue=queue)


def queue_create(*, project: Project, name: str, description: str = "", names: Iterable[str] = (),
                 actor: Actor = None) -> AnnotationQueue:
    name = _text(name, "name", 100, required=True)
    if AnnotationQueue.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"A queue named “{name}” exists already."]})
    wanted = [n.strip() for n in names if n.strip()]
    if any(len(n) > 100 for n in wanted):
        raise ValidationError({"names": ["Each name at most 100 characters."]})
    return AnnotationQueue.objects.create(project=project, name=name, description=_text(description, "description", 2000),
                                          names=wanted[:20], created_by=actor_user(actor))


def queue_add(*, queue: AnnotationQueue, episode_ids: Iterable[int]) -> int:
    """Adds episodes (of the queue's project) not in it yet; returns how many were added."""
    ids = list(Episode.objects.filter(project_id=queue.project_id, pk__in=list(episode_ids)[:MAX_QUEUE_ADD])
               .values_list("pk", flat=True))
    before = QueueItem.objects.filter(queue=queue).count()
    QueueItem.objects.bulk_create([QueueItem(queue=queue, episode_id=i) for i in ids], ignore_conflicts=True)
    return QueueItem.objects.filter(queue=queue).count() - before


@transaction.atomic
def queue_item_done(*, queue: AnnotationQueue, episode: Episode, actor: Actor) -> QueueItem:
    item = QueueItem.objects.select_for_update().filter(queue=queue, episode=episode).first()
    if item is None:
        raise ValidationError({"episode": ["This episode is not in the queue."]})
    if not item.done:
        item.done, item.done_by, item.done_at = True, actor_user(actor), timezone.now()
        item.save(update_fields=["done", "done_by", "done_at"])
    return item
