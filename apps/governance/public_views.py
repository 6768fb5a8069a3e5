"""Public, read-only graph pages: the governed parties read the rules without logging in.

Stable URLs: /graphs/<project>/ lists published versions, /graphs/<project>/<digest>/ shows one
with its diagram, /graphs/<project>/<digest>.json gives it as JSON. A version never changes.
Only projects whose admins made their graphs public answer without login (Project.graphs_public).
"""

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from apps.governance import selectors
from apps.governance.graph.diagram import render_svg
from apps.governance.selectors import graph_compiled
from apps.tenancy.models import Membership, Project


def _project(request: HttpRequest, slug: str) -> Project:
    """The project, if its graphs are public or the caller is one of its members. Otherwise the
    same 404 as for a slug nobody uses: the page must not tell whether the project exists."""
    project = Project.objects.filter(slug=slug).first()
    if project is None or not (project.graphs_public or _is_member(request, project)):
        raise Http404("No such project.")
    return project


def _is_member(request: HttpRequest, project: Project) -> bool:
    user = request.user
    return user.is_authenticated and Membership.objects.filter(project=project, user=user).exists()


def _version(request: HttpRequest, slug: str, digest: str):
    version = selectors.graph_version_get(project=_project(request, slug), digest=digest)
    if version is None:
        raise Http404("No such graph version.")
    return version


@require_GET
def public_graph_list(request: HttpRequest, project: str) -> HttpResponse:
    project_obj = _project(request, project)
    versions = selectors.graph_version_list(project=project_obj)[:200]
    return render(request, "governance/public_graph_list.html", {"public_project": project_obj, "versions": versions})


@require_GET
def public_graph(request: HttpRequest, project: str, digest: str) -> HttpResponse:
    version = _version(request, project, digest)
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
    version = _version(request, project, digest)
    body = {
        "project": version.project.slug, "name": version.name, "number": version.number, "digest": version.digest,
        "published_at": version.created_at.isoformat(),
        "active": version.in_force, "manifest": version.manifest, "source": version.source,
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response
