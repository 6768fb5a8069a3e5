"""Governance pages: agents and their states, sanctions, graphs (editor, versions), the log."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit import selectors as audit_selectors
from apps.audit.verification import governance_verify, log_export_lines
from apps.core.forms import form_apply_errors, located, validation_messages, validation_text
from apps.governance import controller, graphs, selectors
from apps.governance.forms import GraphForm, MoveForm, ReasonForm, SanctionForm
from apps.governance.graph import engine
from apps.governance.models import Evidence, Sanction
from apps.tenancy import services as tenancy_services
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member, role_required
from apps.tenancy.models import Role
from apps.traces.models import Episode

STARTER = """name: my-graph
initial: good
states:
  good: {}
  restricted:
    sanctions:
      - revoke: ["send_*"]
transitions:
  - {from: good, to: restricted, when: "violations.severe >= 1 within 10 steps"}
restore:
  - {from: restricted, to: good, after_clean_rounds: 3}
"""


def _can_review(request: ProjectRequest) -> bool:
    return request.membership.allows(Role.REVIEWER)


def _publishing(request: ProjectRequest) -> bool:
    return request.method == "POST" and request.POST.get("action") == "publish"


@require_GET
@project_member()
def agent_list(request: ProjectRequest) -> HttpResponse:
    page = Paginator(selectors.agent_state_list(project=request.project), 50).get_page(request.GET.get("page"))
    context = {
        "page": page, "graph": selectors.graph_active(project=request.project),
        "form": SanctionForm(), "can_review": _can_review(request),
    }
    template = "governance/agent_list.html"
    if request.htmx:
        template += "#agents"
    return render(request, template, context)


def _agent_context(request: ProjectRequest, agent: str, **extra) -> dict:
    agent_state = selectors.agent_state_get(project=request.project, agent=agent)
    graph = selectors.graph_active(project=request.project)
    targets = []
    if graph and agent_state:
        targets = engine.reviewer_targets(selectors.graph_compiled(graph), state=agent_state.state)
    return {
        "agent": agent, "agent_state": agent_state, "graph": graph, "targets": targets,
        "sanctions": selectors.sanction_list(project=request.project, agent=agent)[:100],
        "rounds": Evidence.objects.filter(project=request.project, agent=agent).select_related("episode")[:20],
        "can_review": _can_review(request), "form": SanctionForm(initial={"agent": agent}),
        "move_form": MoveForm(), **extra,
    }


@require_GET
@project_member()
def agent_detail(request: ProjectRequest, agent: str) -> HttpResponse:
    return render(request, "governance/agent_detail.html", _agent_context(request, agent))


@require_POST
@project_member(Role.REVIEWER)
def sanction_apply(request: ProjectRequest) -> HttpResponse:
    form = SanctionForm(request.POST)
    if form.is_valid():
        try:
            controller.sanction_apply(project=request.project, actor=actor_of(request), **form.cleaned_data)
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            if request.htmx:
                context = _agent_context(request, form.cleaned_data["agent"])
                return render(request, "governance/_sanctions_changed.html", context)
            return redirect("governance:agent_detail", project=request.project.slug, agent=form.cleaned_data["agent"])
    agent = request.POST.get("agent", "")
    context = _agent_context(request, agent, form=form)
    return render(request, "governance/agent_detail.html#sanctions", context, status=400 if request.htmx else 200)


@require_POST
@project_member(Role.REVIEWER)
def sanction_lift(request: ProjectRequest, sanction_id: int) -> HttpResponse:
    sanction = get_object_or_404(Sanction, project=request.project, pk=sanction_id)
    form = ReasonForm(request.POST)
    error = None
    if form.is_valid():
        try:
            controller.sanction_lift(sanction=sanction, actor=actor_of(request), reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            error = validation_text(exc)
    else:
        error = "Say why the sanction is lifted."
    context = _agent_context(request, sanction.agent, lift_error=error)
    return render(request, "governance/_sanctions_changed.html", context)


@require_POST
@project_member(Role.REVIEWER)
def agent_move(request: ProjectRequest, agent: str) -> HttpResponse:
    form = MoveForm(request.POST)
    error = None
    if form.is_valid():
        try:
            controller.agent_move(project=request.project, agent=agent, actor=actor_of(request),
                                  **form.cleaned_data)
        except ValidationError as exc:
            error = validation_text(exc)
    else:
        error = "Choose a state and say why."
    context = _agent_context(request, agent, move_error=error)
    return render(request, "governance/agent_detail.html#state", context)


@require_POST
@project_member(Role.ADMIN)
def graph_visibility(request: ProjectRequest) -> HttpResponse:
    """Makes the published graphs readable at /graphs/<project>/ without login, or private again."""
    tenancy_services.project_graphs_public_set(project=request.project, public=request.POST.get("public") == "1",
                                               actor=actor_of(request))
    return redirect("governance:graphs", project=request.project.slug)


@require_http_methods(["GET", "POST"])
@project_member()
@role_required(Role.ADMIN, when=_publishing)
def graph_list(request: ProjectRequest) -> HttpResponse:
    """Versions and the editor. Anyone may validate a draft; publishing needs the admin role."""
    active = selectors.graph_active(project=request.project)
    form = GraphForm(request.POST or None, initial={"source": active.source if active else STARTER})
    context: dict = {"versions": selectors.graph_version_list(project=request.project)[:100], "active": active,
               "form": form, "problems": None, "checked": None, "published": None,
               "can_publish": request.membership.allows(Role.ADMIN)}
    if request.method == "POST" and form.is_valid():
        source = form.cleaned_data["source"]
        try:
            if _publishing(request):
                context["published"] = graphs.graph_publish(project=request.project, source=source,
                                                            actor=actor_of(request))
                context["active"] = context["published"]
                context["versions"] = selectors.graph_version_list(project=request.project)[:100]
            else:
                context["checked"] = graphs.graph_check(source=source)
        except ValidationError as exc:
            context["problems"] = located(validation_messages(exc))
    template = "governance/graph_list.html"
    if request.htmx:
        template += "#editor"
    return render(request, template, context)


@require_GET
@project_member()
def log_list(request: ProjectRequest) -> HttpResponse:
    event = request.GET.get("event") or None
    entries = audit_selectors.log_entry_list(project=request.project, event=event)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    _entry_links(request.project, page)
    context = {"page": page, "event": event or "", "query": urlencode({"event": event}) if event else "",
               "events": audit_selectors.log_event_names(project=request.project),
               "checkpoint": audit_selectors.checkpoint_latest(project=request.project),
               "pending": audit_selectors.log_pending(project=request.project)}
    template = "governance/log_list.html"
    if request.htmx:
        template += "#entries"
    return render(request, template, context)


def _entry_links(project, entries) -> None:
    """Gives each entry `.data` and `.episode_id` (the replay it names, if it names an episode)."""
    for entry in entries:
        entry.parsed = entry.data
    names = {str(e.parsed.get("episode")) for e in entries if isinstance(e.parsed, dict) and e.parsed.get("episode")}
    ids = dict(Episode.objects.filter(project=project, external_id__in=names).values_list("external_id", "pk"))
    for entry in entries:
        data = entry.parsed if isinstance(entry.parsed, dict) else {}
        entry.episode_pk = ids.get(str(data.get("episode"))) if data.get("episode") else None


@require_GET
@project_member()
def log_export(request: ProjectRequest) -> StreamingHttpResponse:
    """The signed JSON Lines bundle the API exports, for a signed-in reviewer (the page's Export)."""
    lines = log_export_lines(project=request.project, from_seq=1, to_seq=None)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="warden-{request.project.slug}-governance-log.jsonl"'
    return response


@require_GET
@project_member()
def log_verify(request: ProjectRequest) -> HttpResponse:
    """The verify badge: walks the whole chain (loaded lazily by the log page)."""
    report = governance_verify(project=request.project)
    return render(request, "governance/log_list.html#badge", {"report": report})
