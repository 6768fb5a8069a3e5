from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.dashboard import charts, selectors
from apps.tenancy.decorators import ProjectRequest, project_member


@require_GET
@project_member()
def overview(request: ProjectRequest) -> HttpResponse:
    """Counts, then charts over the picked time range (`?range=24h|7d|30d|90d`)."""
    summary = selectors.project_summary(project=request.project)
    template = "dashboard/overview.html"
    if request.htmx and request.GET.get("partial") != "charts":
        return render(request, template + "#summary", {"project": request.project, "summary": summary})
    range_name = request.GET.get("range") or selectors.DEFAULT_RANGE
    error = None
    if range_name not in selectors.RANGES:
        error = f"range: must be one of {', '.join(selectors.RANGES)}"
        range_name = selectors.DEFAULT_RANGE
    data = selectors.dashboard(project=request.project, range_name=range_name)
    context = {"project": request.project, "summary": summary, "data": data, "figures": charts.figures(data),
               "ranges": list(selectors.RANGES), "range": range_name, "error": error}
    if request.htmx:
        template += "#charts"
    return render(request, template, context, status=400 if error else 200)


@require_GET
@project_member()
def log_status(request: ProjectRequest) -> HttpResponse:
    """The log verification card, loaded after the page (a full chain walk, cached per head)."""
    return render(request, "dashboard/_log_status.html", {"status": selectors.log_status(project=request.project)})
