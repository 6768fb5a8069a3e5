"""The one way a page checks who may use it: `@project_member(...)` and `@role_required(...)`.

Views take a `ProjectRequest`: an HttpRequest that `project_member` has given `.project` and
`.membership`, typed so mypy checks what views read from it.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django_htmx.middleware import HtmxDetails

from apps.tenancy.models import Membership, Project, Role

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ProjectRequest(HttpRequest):
    """A page request inside one project, as `project_member` leaves it."""

    project: Project
    membership: Membership
    user: User
    htmx: HtmxDetails


View = Callable[..., HttpResponseBase]


def project_member(role: str = Role.VIEWER, *, write: str | None = None) -> Callable[[View], View]:
    """Resolves `project` (a slug) to request.project for members holding at least `role`, and at
    least `write` for a request that changes something (any method but GET and HEAD).

    Non-members get 404, not 403, so project names do not leak across tenants.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, project: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("project")
                .filter(user=request.user, project__slug=project)
                .first()
            )
            if membership is None:
                raise Http404("No such project.")
            needed = write if write is not None and request.method not in SAFE_METHODS else role
            _require(membership, needed)
            request.project = membership.project  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def role_required(role: str, *, when: Callable[[ProjectRequest], bool]) -> Callable[[View], View]:
    """Under `project_member`: requests for which `when(request)` holds need at least `role`
    (e.g. the graph editor's Publish button, where Validate is open to every member)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: ProjectRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if when(request):
                _require(request.membership, role)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _require(membership: Membership, role: str) -> None:
    if not membership.allows(role):
        raise PermissionDenied(f"This needs the {role} role in {membership.project.name}.")
