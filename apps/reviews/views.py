"""Violation triage pages (a filterable list for everyone, updates for reviewers) and trace metrics."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.forms import validation_messages
from apps.reviews import charts, metrics, selectors, services
from apps.reviews.models import TRANSITIONS, Severity, Source, Status
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Membership, Role


def _list_context(request: ProjectRequest, filters: dict, **extra) -> dict:
    page = Paginator(selectors.violation_list(project=request.project, filters=filters), 50).get_page(
        request.GET.get("page"))
    return {"page": page, "filters": filters, "query": urlencode({k: v for k, v in filters.items() if v}),
            "statuses": Status.values, "severities": Severity.values, "sources": Source.values,
            "reviewers": _reviewers(request.project), "can_triage": request.membership.allows(Role.REVIEWER),
            "bulk_actions": list(services.BULK_ACTIONS), **extra}


@require_GET
@project_member()
def violation_list(request: ProjectRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in selectors.FILTERS}
    template = "reviews/violation_list.html"
    if request.htmx:
        template += "#table"
    return render(request, template, _list_context(request, filters))


@require_POST
@project_member(Role.REVIEWER)
def violation_bulk(request: ProjectRequest) -> HttpResponse:
    """One action on the selected violations, or on every one matching the list's filter (`all`)."""
    filters = {k: request.POST.get(k, "") for k in selectors.FILTERS}
    violations = selectors.violation_list(project=request.project, filters=filters)
    if request.POST.get("all") != "1":
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
        violations = violations.filter(pk__in=ids)
    errors: list[str] = []
    done = ""
    try:
        moved = services.violations_bulk_update(
            violations=violations, action=request.POST.get("action", ""), actor=actor_of(request),
            reason=request.POST.get("reason", ""), assignee=request.POST.get("assign_to") or None)
        done = f"{request.POST.get('action')}: {moved} violation{'s' if moved != 1 else ''} updated."
    except ValidationError as exc:
        errors = validation_messages(exc)
    context = _list_context(request, filters, bulk_errors=errors, bulk_done=done)
    return render(request, "reviews/violation_list.html#table", context, status=400 if errors else 200)


def _reviewers(project) -> list[str]:
    return [m.user.username for m in Membership.objects.filter(project=project).select_related("user")
            if m.allows(Role.REVIEWER)]


@require_http_methods(["GET", "POST"])
@project_member(write=Role.REVIEWER)
def violation_detail(request: ProjectRequest, violation_id: int) -> HttpResponse:
    violation = selectors.violation_get(project=request.project, violation_id=violation_id)
    if violation is None:
        raise Http404("No such violation.")
    errors: list[str] = []
    saved = False
    if request.method == "POST":
        changes = {"status": request.POST.get("status") or None,
                   "comment": request.POST.get("comment", request.POST.get("notes", ""))}
        if "assignee" in request.POST:
            changes["assignee"] = request.POST.get("assignee") or None
        try:
            violation = services.violation_update(violation=violation, actor=actor_of(request), **changes)
            saved = True
        except ValidationError as exc:
            errors = validation_messages(exc)
        violation = selectors.violation_get(project=request.project, violation_id=violation_id) or violation
    context = {"v": violation, "errors": errors, "saved": saved, **selectors.violation_story(violation=violation),
               "next_statuses": sorted(TRANSITIONS.get(Status(violation.status), set())),
               "reviewers": _reviewers(request.project),
               "can_triage": request.membership.allows(Role.REVIEWER)}
    template = "reviews/violation_detail.html"
    if request.htmx:
        template += "#triage"
    return render(request, template, context)


@require_GET
@project_member()
def metrics_overview(request: ProjectRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in ("days", "environment", "agent")}
    data = metrics.project_metrics(project=request.project, filters=filters)
    context = {"m": data, "figure": charts.governance_figure(data), "filters": filters,
               "outcomes": list(data["governance_outcomes"].items())}
    template = "reviews/metrics_overview.html"
    if request.htmx:
        template += "#metrics"
    return render(request, template, context)
