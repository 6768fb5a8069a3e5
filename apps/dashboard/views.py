from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.dashboard import selectors
from apps.tenancy.decorators import project_member


@require_GET
@project_member()
def overview(request: HttpRequest) -> HttpResponse:
    summary = selectors.project_summary(project=request.project)
    template = "dashboard/overview.html"
    if request.htmx:
        template += "#summary"
    return render(request, template, {"project": request.project, "summary": summary})
