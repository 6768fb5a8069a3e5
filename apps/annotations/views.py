"""Grading pages under /p/<project>/annotations/: queues, the replay's grades panel, the export."""

import csv
import io
import json
from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.annotations import selectors, services
from apps.annotations.models import Annotation, AnnotationQueue
from apps.core.forms import validation_text
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Role
from apps.traces import schema
from apps.traces import selectors as traces
from apps.traces.models import Episode


def _queue(request: ProjectRequest, value: str | None) -> AnnotationQueue | None:
    if not value or not str(value).isdigit():
        return None
    return selectors.queue_get(project=request.project, queue_id=int(value))


def _queue_or_404(request: ProjectRequest, queue_id: int) -> AnnotationQueue:
    queue = _queue(request, str(queue_id))
    if queue is None:
        raise Http404("No such queue in this project.")
    return queue


def _panel_context(request: ProjectRequest, episode: Episode, queue: AnnotationQueue | None, error: str = "") -> dict:
    admin = request.membership.allows(Role.ADMIN)
    grades = list(selectors.episode_annotations(episode=episode))
    for g in grades:
        g.removable = services.annotation_editable(annotation=g, actor=actor_of(request), admin=admin)  # type: ignore[attr-defined]
    return {"episode": episode, "grades": grades, "queue": queue,
            "error": error, "can_grade": request.membership.allows(Role.REVIEWER),
            "names": queue.names if queue and queue.names else [], "current_project": request.project}


def grades_panel(request: ProjectRequest, episode: Episode) -> str:
    """The replay page's Grades section (registered with the traces app's replay panels)."""
    queue = _queue(request, request.GET.get("queue"))
    return render_to_string("annotations/_grades.html", _panel_context(request, episode, queue), request=request)


@require_POST
@project_member(Role.REVIEWER)
def grade(request: ProjectRequest, episode_id: int) -> HttpResponse:
    """Adds a grade from the replay page; htmx gets the panel back, a plain form a redirect."""
    episode = get_object_or_404(Episode, project=request.project, pk=episode_id)
    queue = _queue(request, request.POST.get("queue"))
    error, status = "", 200
    try:
        value = request.POST.get("value", "").strip()
        step = request.POST.get("step_index", "").strip()
        services.annotation_create(
            project=request.project, episode=episode, name=request.POST.get("name", ""),
            value=float(value) if value else None, label=request.POST.get("label", ""),
            comment=request.POST.get("comment", ""), step_index=int(step) if step else None,
            author=request.user, source=request.user.username, queue=queue)
    except ValueError:
        error, status = "value and step_index must be numbers", 400
    except ValidationError as exc:
        error, status = validation_text(exc), 400
    if request.htmx:
        return render(request, "annotations/_grades.html", _panel_context(request, episode, queue, error), status=status)
    if error:
        messages.error(request, error)
    url = reverse("traces:episode", kwargs={"project": request.project.slug, "episode_id": episode.pk})
    return redirect(url + (f"?queue={queue.pk}" if queue else "") + "#grades")


@require_POST
@project_member(Role.REVIEWER)
def grade_remove(request: ProjectRequest, episode_id: int, annotation_id: int) -> HttpResponse:
    """Removes one of the reviewer's own grades (an admin's: any); logged. htmx gets the panel back."""
    episode = get_object_or_404(Episode, project=request.project, pk=episode_id)
    annotation = get_object_or_404(Annotation, project=request.project, episode=episode, pk=annotation_id)
    if not services.annotation_editable(annotation=annotation, actor=actor_of(request),
                                        admin=request.membership.allows(Role.ADMIN)):
        raise PermissionDenied("Only whoever gave a grade, or an admin, removes it.")
    services.annotation_delete(annotation=annotation, actor=actor_of(request))
    queue = _queue(request, request.POST.get("queue"))
    if request.htmx:
        return render(request, "annotations/_grades.html", _panel_context(request, episode, queue))
    url = reverse("traces:episode", kwargs={"project": request.project.slug, "episode_id": episode.pk})
    return redirect(url + (f"?queue={queue.pk}" if queue else "") + "#grades")


@require_GET
@project_member()
def queue_list(request: ProjectRequest) -> HttpResponse:
    return render(request, "annotations/queue_list.html", {"queues": selectors.queue_list(project=request.project),
                                                           "can_grade": request.membership.allows(Role.REVIEWER)})


@require_POST
@project_member(Role.REVIEWER)
def queue_create(request: ProjectRequest) -> HttpResponse:
    """A queue, filled with the episodes the given episode-list filters match (the `query` field)."""
    try:
        queue = services.queue_create(project=request.project, name=request.POST.get("name", ""),
                                      description=request.POST.get("description", ""),
                                      names=request.POST.get("names", "").split(","), actor=actor_of(request))
        filters = traces.episode_filters_parse(_query(request.POST.get("query", "")))
    except ValidationError as exc:
        messages.error(request, validation_text(exc))
        return redirect("annotations:queues", project=request.project.slug)
    except schema.InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("annotations:queues", project=request.project.slug)
    ids = traces.episode_list(project=request.project, filters=filters).values_list("pk", flat=True)
    added = services.queue_add(queue=queue, episode_ids=ids[:services.MAX_QUEUE_ADD])
    messages.success(request, f"Queue “{queue.name}” holds {added} episodes.")
    return redirect("annotations:queue", project=request.project.slug, queue_id=queue.pk)


def _query(text: str) -> dict:
    from django.http import QueryDict
    return QueryDict(text.lstrip("?"))  # type: ignore[return-value]


@require_GET
@project_member()
def queue_detail(request: ProjectRequest, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(request, queue_id)
    items = list(selectors.queue_items(queue=queue))
    return render(request, "annotations/queue_detail.html",
                  {"queue": queue, "items": items, "done": sum(i.done for i in items),
                   "can_grade": request.membership.allows(Role.REVIEWER)})


@require_GET
@project_member()
def queue_next(request: ProjectRequest, queue_id: int) -> HttpResponse:
    """Opens the next pending episode of the queue in the replay (after `?after=<episode id>`)."""
    queue = _queue_or_404(request, queue_id)
    after = request.GET.get("after")
    item = selectors.queue_next(queue=queue, after=int(after) if after and after.isdigit() else None)
    if item is None:
        messages.success(request, f"Every episode in “{queue.name}” is graded.")
        return redirect("annotations:queue", project=request.project.slug, queue_id=queue.pk)
    url = reverse("traces:episode", kwargs={"project": request.project.slug, "episode_id": item.episode_id})
    return redirect(f"{url}?queue={queue.pk}#grades")


@require_POST
@project_member(Role.REVIEWER)
def queue_done(request: ProjectRequest, queue_id: int, episode_id: int) -> HttpResponse:
    queue = _queue(request, str(queue_id))
    episode = Episode.objects.filter(project=request.project, pk=episode_id).first()
    if queue is None or episode is None:
        raise Http404("No such queue or episode in this project.")
    try:
        services.queue_item_done(queue=queue, episode=episode, actor=actor_of(request))
    except ValidationError as exc:
        messages.error(request, validation_text(exc))
    return redirect(reverse("annotations:queue_next", kwargs={"project": request.project.slug, "queue_id": queue.pk})
                    + f"?after={episode.pk}")


def export_filters(params) -> dict:
    """Export filters: episode (external id), name, queue (id). Raises ValidationError naming the field."""
    queue = (params.get("queue") or "").strip()
    if queue and not queue.isdigit():
        raise ValidationError({"queue": ["A queue id (a number)."]})
    return {"episode": (params.get("episode") or "").strip(), "name": (params.get("name") or "").strip(),
            "queue": int(queue) if queue else None}


def export_response(rows: Iterator[dict], fmt: str, filename: str) -> StreamingHttpResponse:
    """Grades as CSV (one row per grade) or a JSON array, streamed."""
    if fmt == "csv":
        def lines() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=selectors.EXPORT_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
            yield buffer.getvalue()
        response = StreamingHttpResponse(lines(), content_type="text/csv")
    else:
        def items() -> Iterator[str]:
            yield "["
            for i, row in enumerate(rows):
                yield ("," if i else "") + "\n" + json.dumps(row)
            yield "\n]\n"
        response = StreamingHttpResponse(items(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@require_GET
@project_member()
def export(request: ProjectRequest, fmt: str) -> HttpResponse:
    try:
        filters = export_filters(request.GET)
    except ValidationError as exc:
        return HttpResponse(validation_text(exc), status=400, content_type="text/plain")
    return export_response(selectors.export_rows(project=request.project, filters=filters), fmt,
                           f"grades-{request.project.slug}")
