"""Public, read-only graph pages: the governed parties read the rules without logging in.

Stable URLs: /graphs/<project>/ lists published versions, /graphs/<project>/<digest>/ shows one
with its diagram, /graphs/<project>/<digest>.json gives it as JSON. A version never changes.
"""

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from apps.governance import selectors
from apps.governance.graph.diagram import render_svg
from apps.governance.selectors import graph_compiled
from apps.tenancy.models import Project


def _project(slug: str) -> Project:
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    return project


def _version(slug: str, digest: str):
    version = selectors.graph_version_get(project=_project(slug), digest=digest)
    if version is None:
        raise Http404("No such graph version.")
    return version


@require_GET
def public_graph_list(request: HttpRequest, project: str) -> HttpResponse:
    project_obj = _project(project)
    versions = selectors.graph_version_list(project=project_obj)[:200]
    return render(request, "governance/public_graph_list.html", {"public_project": project_obj, "versions": versions})


@require_GET
def public_graph(request: HttpRequest, project: str, digest: str) -> HttpResponse:
    version = _version(project, digest)
    graph = graph_compiled(version)
    context = {
        "version": version, "graph": graph, "public_project": version.project,
        "diagram": mark_safe(render_svg(graph)),  # built by render_svg, which escapes every name and label
    }
    response = render(request, "governance/public_graph.html", context)
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response


@require_GET
def public_graph_json(request: HttpRequest, project: str, digest: str) -> JsonResponse:
    version = _version(project, digest)
    body = {
        "project": version.project.slug, "name": version.name, "number": version.number, "digest": version.digest,
        "published_at": version.created_at.isoformat(),
        "active": version.is_active, "manifest": version.manifest, "source": version.source,
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response
