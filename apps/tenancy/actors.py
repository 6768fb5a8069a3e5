"""Who did something: the one shape services accept as `actor`, and the one way to name it.

A page passes the signed-in User, an API view the key's principal (`key:<name>`), background
work a plain name ("controller", "run:<id>", "system"). The log records `actor_name(actor)`;
rows that point at a user (`created_by`, `answered_by`) take `actor_user(actor)`.
"""

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

Actor = Any  # a User, an API key's KeyPrincipal, or a name (str); None where the system acts


def actor_of(request: HttpRequest) -> Actor:
    """The actor behind a request: the signed-in user on pages, the key's principal on the API."""
    return request.user


def actor_name(actor: Actor, default: str = "system") -> str:
    """A username, `key:<name>` for an API key, the name given, or `default` for no actor."""
    if actor is None or actor == "":
        return default
    return str(getattr(actor, "username", None) or actor)


def actor_user(actor: Actor) -> User | None:
    """The User behind `actor`, when it is one (a saved user, not a key or a name)."""
    return actor if isinstance(actor, User) and actor.pk else None
