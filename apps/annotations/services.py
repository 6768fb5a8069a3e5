"""Writes: grades, queues, queue progress. Errors are ValidationError naming the field.

Every grade written, changed or removed is a reviewer's act on the record: each appends its
LogEvent.ANNOTATION_* entry to the governance log in the same transaction."""

import math
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.annotations.models import Annotation, AnnotationQueue, QueueItem
from apps.audit.services import governance_log_append
from apps.core.events import LogEvent
from apps.tenancy.actors import Actor, actor_name, actor_user
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


def _value(value: float | None) -> float | None:
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)):
        raise ValidationError({"value": ["A finite number."]})
    return value


def _grade(annotation: Annotation) -> dict:
    """What the log keeps of a grade: where it is, what it says."""
    return {"annotation": annotation.pk, "episode": annotation.episode.external_id, "step": annotation.step_index,
            "name": annotation.name, "value": annotation.value, "label": annotation.label,
            "comment": annotation.comment or None, "queue": annotation.queue_id}


@transaction.atomic
def annotation_create(*, project: Project, episode: Episode, name: str, value: float | None = None,
                      label: str = "", comment: str = "", step_index: int | None = None, author=None,
                      source: str, queue: AnnotationQueue | None = None) -> Annotation:
    """One grade on the episode (or one of its steps): a score, a label, or both. `source` names the
    grader (a username, or key:<name>) in the row and the log."""
    if episode.project_id != project.pk:
        raise ValidationError({"episode": ["No such episode in this project."]})
    name = _text(name, "name", 100, required=True)
    label = _text(label, "label", 100)
    comment = _text(comment, "comment", 10_000)
    value = _value(value)
    if value is None and not label:
        raise ValidationError({"value": ["Give a score (value), a label, or both."]})
    if step_index is not None and not 0 <= step_index < max(episode.step_count, 1):
        raise ValidationError({"step_index": [f"The episode has steps 0 to {episode.step_count - 1}."]})
    if queue is not None and queue.project_id != project.pk:
        raise ValidationError({"queue": ["No such queue in this project."]})
    annotation = Annotation.objects.create(project=project, episode=episode, step_index=step_index, name=name,
                                           value=value, label=label, comment=comment,
                                           author=author if getattr(author, "pk", None) else None,
                                           source=source[:120], queue=queue)
    governance_log_append(project=project, event=LogEvent.ANNOTATION_CREATED, actor=annotation.source,
                          data=_grade(annotation))
    return annotation


_KEEP = object()


@transaction.atomic
def annotation_update(*, annotation: Annotation, actor: Actor, value=_KEEP, label=_KEEP,
                      comment=_KEEP) -> Annotation:
    """Changes a grade's score, label or comment (what it grades stays). Logs the grade before and after."""
    locked = Annotation.objects.select_for_update().select_related("episode").get(pk=annotation.pk)
    before = _grade(locked)
    if value is not _KEEP:
        locked.value = _value(value)
    if label is not _KEEP:
        locked.label = _text(label, "label", 100)
    if comment is not _KEEP:
        locked.comment = _text(comment, "comment", 10_000)
    if locked.value is None and not locked.label:
        raise ValidationError({"value": ["Give a score (value), a label, or both."]})
    locked.save(update_fields=["value", "label", "comment"])
    after = _grade(locked)
    if after != before:
        changed = {k: {"from": before[k], "to": after[k]} for k in ("value", "label", "comment") if before[k] != after[k]}
        governance_log_append(project=locked.project, event=LogEvent.ANNOTATION_UPDATED, actor=actor_name(actor),
                              data={**after, "changed": changed})
    return locked


@transaction.atomic
def annotation_delete(*, annotation: Annotation, actor: Actor) -> None:
    """Removes a grade; the log keeps what it said."""
    locked = Annotation.objects.select_for_update().select_related("episode").filter(pk=annotation.pk).first()
    if locked is None:
        return  # removed already: removing twice is the same as once
    data = _grade(locked)
    locked.delete()
    governance_log_append(project=annotation.project, event=LogEvent.ANNOTATION_DELETED, actor=actor_name(actor),
                          data=data)


def annotation_editable(*, annotation: Annotation, actor: Actor, admin: bool) -> bool:
    """A grade is changed or removed by whoever gave it (user or key), or by a project admin."""
    return admin or annotation.source == actor_name(actor)


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
