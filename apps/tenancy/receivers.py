"""Receivers of the tenancy app."""

from apps.tenancy.services import invitations_accept


def on_user_logged_in(sender, *, user, **kwargs) -> None:
    """An account signing in joins the projects that invited its username."""
    invitations_accept(user=user)
