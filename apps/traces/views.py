"""Episode pages: a filtered list and the replay of one episode, loaded in chunks as you scroll."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.tenancy.decorators import ProjectRequest, project_member
from apps.traces import jsonl, panels, saved_views, schema, selectors
from apps.traces.models import Episode

PAGE_SIZE = 50
# Steps rendered per request on the replay page; the next chunk loads when the last one is seen.
# The page itself renders a shorter first chunk: it opens sooner, and scrolling loads the rest.
CHUNK = 200
FIRST_CHUNK = 100
# With ?at=N the page starts this many steps before N, so the step has context above it.
CONTEXT_BEFORE = 10
# The trace tree draws this many spans (?spans=N up to TREE_NODES_MAX), the first ones, with a note.
TREE_NODES = 500
TREE_NODES_MAX = 5000
SESSION_EPISODES = 500


# Columns of the episode list: (sort key or "", heading, numeric).
COLUMNS = (
    ("", "Episode", False), ("status", "Status", False), ("", "Agents", False), ("steps", "Steps", True),
    ("duration", "Latency", True), ("tokens", "Tokens", True), ("cost", "Cost", True),
    ("decisions", "Decisions", True), ("violations", "Violations", True), ("started", "Started", False),
)


def _headings(query: QueryDict, sort: str) -> list[dict]:
    """Each column's heading; a sortable one links to its sort, flipping direction when active."""
    out = []
    for key, label, numeric in COLUMNS:
        heading: dict = {"label": label, "numeric": numeric}
        if key:
            active = sort.lstrip("-") == key
            descending = sort.startswith("-")
            params = query.copy()
            params["sort"] = (key if descending else f"-{key}") if active else f"-{key}"
            heading.update(url="?" + params.urlencode(), active=active,
                           direction=("descending" if descending else "ascending") if active else "")
        out.append(heading)
    return out


@require_GET
@project_member()
def episode_list(request: ProjectRequest) -> HttpResponse:
    error = None
    try:
        filters = selectors.episode_filters_parse(request.GET)
        sort = selectors.sort_parse(request.GET.get("sort"))
    except schema.InvalidInput as exc:
        filters, sort, error = {}, selectors.DEFAULT_SORT, str(exc)
    episodes = selectors.episode_rows(project=request.project, filters=filters, sort=sort)
    page = Paginator(episodes, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    for name in ("page", "partial"):
        query.pop(name, None)
    context = {
        "page": page, "filters": request.GET, "error": error, "query": query.urlencode(),
        "statuses": schema.STATUSES, "filtered": bool(filters), "headings": _headings(query, sort),
        "saved_views": saved_views.saved_views(project=request.project, user=request.user, page="episodes"),
    }
    template = "traces/episode_list.html"
    if request.htmx:
        template += "#table"
    return render(request, template, context)


@require_POST
@project_member()
def saved_view_save(request: ProjectRequest) -> HttpResponse:
    """Saves the list's current filters and sort (its query string) under a name, for this user."""
    try:
        saved_views.saved_view_save(project=request.project, user=request.user, page="episodes",
                                    name=request.POST.get("name", ""), query=request.POST.get("query", ""))
    except schema.InvalidInput as exc:
        return HttpResponseBadRequest(str(exc))
    messages.success(request, f"Saved the view “{request.POST.get('name', '').strip()}”.")
    return redirect(reverse("traces:list", kwargs={"project": request.project.slug}) + "?"
                    + request.POST.get("query", "").lstrip("?"))


@require_POST
@project_member()
def saved_view_delete(request: ProjectRequest, view_id: int) -> HttpResponse:
    if not saved_views.saved_view_delete(project=request.project, user=request.user, view_id=view_id):
        raise Http404("No such saved view of yours.")
    return redirect("traces:list", project=request.project.slug)


def _episode(request: ProjectRequest, episode_id: int) -> Episode:
    episode = selectors.episode_by_id(project=request.project, episode_id=episode_id)
    if episode is None:
        raise Http404("No such episode in this project.")
    return episode


def _chunk(episode: Episode, start: int, stop: int | None = None, filters: dict | None = None,
           size: int = CHUNK) -> dict:
    """Steps from index `start` (up to `stop`, exclusive) and where the next chunk begins.

    With step filters only matching steps are returned, `size` at a time (no `stop`)."""
    if filters:
        steps = selectors.step_search(episode=episode, filters=filters, start=start, limit=size)
        stop = None
    else:
        limit = size if stop is None else max(0, min(size, stop - start))
        steps = selectors.step_range(episode=episode, start=start, limit=limit) if limit else []
    if stop is not None:
        steps = [s for s in steps if s.index < stop]
    panels.step_notes_attach(episode=episode, steps=steps)
    more = len(steps) == size and (stop is None or steps[-1].index + 1 < stop)
    return {"steps": steps, "next_from": steps[-1].index + 1 if more else None, "stop": stop}


def _step_filters(request: ProjectRequest) -> tuple[dict, str | None, str]:
    """(parsed filters, error, the filters as a query string for the next chunk's URL)."""
    try:
        filters = selectors.step_filters_parse(request.GET)
    except schema.InvalidInput as exc:
        return {}, str(exc), ""
    query = request.GET.copy()
    for name in ("from", "to", "at", "page"):
        query.pop(name, None)
    return filters, None, query.urlencode()


def _earlier(start: int) -> dict:
    """The "load earlier steps" control above a chunk that does not start at 0."""
    return {"earlier_from": max(0, start - CHUNK), "earlier_to": start} if start > 0 else {}


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, min(int(value or ""), schema.MAX_INDEX))
    except (TypeError, ValueError):
        return default


@require_GET
@project_member()
def episode_detail(request: ProjectRequest, episode_id: int) -> HttpResponse:
    episode = _episode(request, episode_id)
    filters, error, query = _step_filters(request)
    at = -1 if filters else _int(request.GET.get("at"), -1)
    start = max(0, at - CONTEXT_BEFORE) if at >= 0 else 0
    context = {
        "episode": episode, "at": at, "filters": request.GET, "filtered": bool(filters), "error": error,
        "query": query, "kinds": selectors.STEP_KINDS, "verdicts": selectors.VERDICTS,
        **(_earlier(start) if not filters else {}), **_chunk(episode, start, filters=filters, size=FIRST_CHUNK),
    }
    if request.htmx and request.GET.get("partial") == "steps":
        return render(request, "traces/episode_detail.html#step_list", context)
    context.update(decisions=selectors.first_decision_steps(episode=episode, limit=50),
                   panels=panels.replay_panels(request=request, episode=episode))
    return render(request, "traces/episode_detail.html", context)


@require_GET
@project_member()
def step_chunk(request: ProjectRequest, episode_id: int) -> HttpResponse:
    """The next chunk of steps for the replay page (htmx, triggered when the previous one is seen)."""
    episode = _episode(request, episode_id)
    filters, _error, query = _step_filters(request)
    start = _int(request.GET.get("from"), 0)
    stop = None if filters else request.GET.get("to")
    context = {"episode": episode, "at": _int(request.GET.get("at"), -1), "query": query,
               **_chunk(episode, start, _int(stop, 0) if stop else None, filters),
               **(_earlier(start) if stop else {})}
    return render(request, "traces/episode_detail.html#steps", context)


@require_GET
@project_member()
def episode_by_external_id(request: ProjectRequest, external_id: str) -> HttpResponse:
    """Links for pages that only know the runtime's id: /p/<project>/traces/x/<external id>/?at=N."""
    episode = selectors.episode_get(project=request.project, external_id=external_id)
    if episode is None:
        raise Http404("No such episode in this project.")
    url = redirect("traces:episode", project=request.project.slug, episode_id=episode.pk).url
    at = request.GET.get("at")
    if at and at.isdigit():
        url += f"?at={at}#step-{at}"
    return redirect(url)


@require_GET
@project_member()
def episode_export(request: ProjectRequest, episode_id: int) -> StreamingHttpResponse:
    episode = _episode(request, episode_id)
    response = StreamingHttpResponse(jsonl.export_lines([episode]), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="episode-{episode.pk}.jsonl"'
    return response


@require_GET
@project_member()
def episode_trace(request: ProjectRequest, episode_id: int) -> HttpResponse:
    """The span tree and waterfall: durations, tokens and cost per span, totals for the episode."""
    episode = _episode(request, episode_id)
    spans = max(1, min(_int(request.GET.get("spans"), TREE_NODES), TREE_NODES_MAX))
    tree = selectors.episode_tree(episode=episode, max_nodes=spans)
    return render(request, "traces/episode_trace.html", {"episode": episode, "tree": tree, "rows": tree.rows()})


@require_GET
@project_member()
def session_detail(request: ProjectRequest, session: str) -> HttpResponse:
    """The episodes of one conversation, in order, with their totals."""
    episodes = list(selectors.session_episodes(project=request.project, session=session)[:SESSION_EPISODES])
    if not episodes:
        raise Http404("No episodes with this session in this project.")
    totals = {
        "steps": sum(e.step_count for e in episodes), "tokens_in": sum(e.tokens_in for e in episodes),
        "tokens_out": sum(e.tokens_out for e in episodes), "cost": sum(e.cost for e in episodes),
        "violations": sum(e.violation_count for e in episodes),
    }
    return render(request, "traces/session_detail.html",
                  {"session": session, "episodes": episodes, "totals": totals, "limit": SESSION_EPISODES})
