from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from apps.tenancy.models import Membership, Role


def project_member(role: str = Role.VIEWER) -> Callable:
    """Resolves `project` (a slug) to request.project for members holding at least `role`.

    Non-members get 404, not 403, so project names do not leak across tenants.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, project: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("project")
                .filter(user=request.user, project__slug=project)
                .first()
            )
            if membership is None:
                raise Http404("No such project.")
            if not membership.allows(role):
                raise PermissionDenied(f"This needs the {role} role in {membership.project.name}.")
            request.project = membership.project
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
