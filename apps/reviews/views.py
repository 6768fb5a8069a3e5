"""Violation triage pages (a filterable list for everyone, updates for reviewers) and trace metrics."""

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.forms import validation_messages
from apps.reviews import charts, metrics, selectors, services
from apps.reviews.models import TRANSITIONS, Severity, Source, Status
from apps.tenancy.actors import actor_of
from apps.tenancy.decorators import ProjectRequest, project_member
from apps.tenancy.models import Membership, Role


@require_GET
@project_member()
def violation_list(request: ProjectRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in selectors.FILTERS}
    page = Paginator(selectors.violation_list(project=request.project, filters=filters), 50).get_page(
        request.GET.get("page"))
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    context = {"page": page, "filters": filters, "query": query, "statuses": Status.values,
               "severities": Severity.values, "sources": Source.values}
    template = "reviews/violation_list.html"
    if request.htmx:
        template += "#table"
    return render(request, template, context)


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
        changes = {"status": request.POST.get("status") or None, "notes": request.POST.get("notes")}
        if "assignee" in request.POST:
            changes["assignee"] = request.POST.get("assignee") or None
        try:
            violation = services.violation_update(violation=violation, actor=actor_of(request), **changes)
            saved = True
        except ValidationError as exc:
            errors = validation_messages(exc)
        violation = selectors.violation_get(project=request.project, violation_id=violation_id) or violation
    context = {"v": violation, "errors": errors, "saved": saved,
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
