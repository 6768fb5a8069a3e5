from django.http import HttpRequest

from apps.tenancy.models import Membership


def projects(request: HttpRequest) -> dict:
    """Projects for the switcher in the header, and the current project and role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_memberships": Membership.objects.filter(user=user).select_related("project"),
        "current_project": getattr(request, "project", None),
        "current_membership": getattr(request, "membership", None),
    }
