"""API-key authentication for agent runtimes: `Authorization: Bearer wdn_<prefix>_<secret>`."""

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from apps.tenancy.limits import api_key_counted
from apps.tenancy.models import KEY_PREFIX, ApiKey, Project, hash_key
from apps.tenancy.sql import KEY_COLUMNS, KEY_SQL, KEY_WIDTH, PROJECT_COLUMNS

# last_used_at is a hint for admins, not an audit trail: write it at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass
class KeyPrincipal:
    """The caller behind an API key. `project` scopes every query the request makes."""

    key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def project(self) -> Project:
        return self.key.project

    @property
    def name(self) -> str:
        return f"key:{self.key.name}"

    def __str__(self) -> str:
        return self.name


def key_lookup(raw: str) -> ApiKey:
    """Returns the active key behind `raw` or raises AuthenticationFailed with the reason."""
    return key_check(_key_by_prefix(key_prefix(raw)), raw)


def key_prefix(raw: str) -> str:
    parts = raw.split("_")
    if not raw.startswith(KEY_PREFIX) or len(parts) < 3:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    return parts[1]


def key_check(key: ApiKey | None, raw: str) -> ApiKey:
    """`key` (found by the prefix of `raw`) if it is the key `raw` names and still active."""
    if key is None or not hmac.compare_digest(key.hashed, hash_key(raw)):
        raise exceptions.AuthenticationFailed("Unknown API key.")
    now = timezone.now()
    if key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise exceptions.AuthenticationFailed("API key has expired.")
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def _key_by_prefix(prefix: str) -> ApiKey | None:
    with connection.cursor() as cursor:
        cursor.execute(KEY_SQL, [prefix])
        row = cursor.fetchone()
    return None if row is None else key_from_row(row)


def key_from_row(row) -> ApiKey:
    """An ApiKey (with its project) from the KEY_SQL columns."""
    n = len(KEY_COLUMNS)
    project = Project(**dict(zip(PROJECT_COLUMNS, row[n:KEY_WIDTH], strict=True)))
    key = ApiKey(project_id=project.id, **dict(zip(KEY_COLUMNS, row[:n], strict=True)))
    key.project = project
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme != self.keyword or not raw.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = key_lookup(raw.strip())
        # The Django request: /decide's lean path may have counted it already (counted once).
        key_rate_check(key, request._request)
        return KeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


def key_rate_check(key: ApiKey, request: HttpRequest) -> None:
    """Counts the request against the key's rate limit (once per request); Throttled (429 with
    Retry-After) past it."""
    wait = api_key_counted(request, key_id=key.pk)
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail=f"API key {key.display} is over its rate limit; "
                                                     f"retry in {int(wait)} s.")


class ApiScope(permissions.BasePermission):
    """The one API permission (DRF's default here): the caller's key must carry the scope its view names.

    A view sets `api_scope`: one need for every method, or a pair (reads, writes) where reads are
    GET/HEAD/OPTIONS. A need is a scope ("read"), any one of several ("decide|read") or all of
    several ("ingest+decide"); an `admin` key has every scope. A view without `api_scope` admits
    any valid key. No key at all: 401, from DRF, because no authenticator succeeded.
    """

    message = "This API key lacks the required scope."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        need = scope_needed(view, request.method)
        if need is None:
            return True
        self.message = f"This API key lacks the {scope_words(need)} scope."
        return scope_admits(request.auth, need)


def scope_needed(view, method: str) -> str | None:
    need = getattr(view, "api_scope", None)
    if isinstance(need, tuple):
        return need[0] if method in permissions.SAFE_METHODS else need[1]
    return need


def scope_admits(key: ApiKey, need: str) -> bool:
    if "+" in need:
        return all(key.has_scope(s) for s in need.split("+"))
    return any(key.has_scope(s) for s in need.split("|"))


def scope_words(need: str) -> str:
    """ "'decide' or 'read'", "'ingest' and 'decide'": for the 403 message."""
    joiner, parts = (" and ", need.split("+")) if "+" in need else (" or ", need.split("|"))
    return joiner.join(f"'{s}'" for s in parts)
