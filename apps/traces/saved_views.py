"""Saved views: a reviewer keeps a list's filters and sort under a name (their own, per project)."""

from urllib.parse import parse_qsl, urlencode

from django.contrib.auth.models import User
from django.db.models import QuerySet

from apps.tenancy.models import Project
from apps.traces import schema
from apps.traces.models import SavedView

PAGES = ("episodes",)
# Parameters that are state, not a view: where the reader was, and htmx's own.
_DROPPED = {"page", "partial", "csrfmiddlewaretoken", "name"}


def saved_view_save(*, project: Project, user: User, page: str, name: str, query: str) -> SavedView:
    """Creates or replaces the user's view `name` on `page`. Raises schema.InvalidInput naming the field."""
    name = name.strip()
    if not name:
        raise schema.InvalidInput("name", "a saved view needs a name")
    if len(name) > 100:
        raise schema.InvalidInput("name", "longer than 100 characters")
    if page not in PAGES:
        raise schema.InvalidInput("page", f"must be one of {', '.join(PAGES)}")
    kept = urlencode([(k, v) for k, v in parse_qsl(query.lstrip("?")) if k not in _DROPPED and v])
    if len(kept) > 2000:
        raise schema.InvalidInput("query", "longer than 2000 characters")
    view, _ = SavedView.objects.update_or_create(project=project, user=user, page=page, name=name,
                                                 defaults={"query": kept})
    return view


def saved_view_delete(*, project: Project, user: User, view_id: int) -> bool:
    """Deletes one of the user's own views; False if there is no such view of theirs."""
    deleted, _ = SavedView.objects.filter(project=project, user=user, pk=view_id).delete()
    return bool(deleted)


def saved_views(*, project: Project, user: User, page: str) -> QuerySet[SavedView]:
    return SavedView.objects.filter(project=project, user=user, page=page)
