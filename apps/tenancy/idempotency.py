"""Idempotency keys: a client retrying a write it is unsure about gets the first answer, not a second write.

A runtime sends `Idempotency-Key: <key>` (or an `idempotency_key` field in a JSON body) with
POST /decide, /decide/message, step batches and JSONL imports. The first request under a key does
its write and records the answer under (API key, key) in the same statement or transaction, so
either both exist or neither does. A later request under the same key gets that answer without
writing anything; under the same key with a different request, a 422 naming the key. Two requests
racing under one key: the second waits on the key's unique index and then gets the first's answer.

Keys live WARDEN_IDEMPOTENCY_TTL_HOURS (default 24) and are then deleted (idempotency_purge, from
beat); a retry after that is a new request.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from psycopg.types.json import Jsonb
from rest_framework import exceptions

from apps.tenancy.models import IdempotencyKey
from apps.tenancy.sql import IDEMPOTENCY_COLUMNS, IDEMPOTENCY_FIND_SQL, IDEMPOTENCY_INSERT

HEADER = "Idempotency-Key"
FIELD = "idempotency_key"
MAX_KEY = 200
CONSTRAINT = "idempotency_key_unique"
OPENAPI_HEADER = OpenApiParameter(
    HEADER, str, location=OpenApiParameter.HEADER, required=False,
    description="A retry under the same key (per API key, kept 24 h) gets the first answer and writes nothing; "
                "the same key with another request is a 422.")


class IdempotencyKeyReused(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = f"{HEADER}: this key was used for a different request; use a new key for a new request."


@dataclass(frozen=True)
class Claim:
    """A write's key: the caller's API key, the client's key and a digest of the request."""

    project_id: int
    api_key_id: int
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    response: Any


def key_valid(value: object) -> bool:
    """1 to 200 printable ASCII characters (what an HTTP header carries unchanged)."""
    return type(value) is str and 0 < len(value) <= MAX_KEY and value.isascii() and value.isprintable()


def key_read(request: HttpRequest, field: object = None) -> str | None:
    """The request's key (header, or `field` from the body); a 400 naming where a bad one came from."""
    header = request.META.get("HTTP_IDEMPOTENCY_KEY")
    for name, value in ((HEADER, header), (FIELD, field)):
        if value is not None and not key_valid(value):
            raise exceptions.ValidationError({name: [f"1 to {MAX_KEY} printable ASCII characters."]})
    if header is not None and field is not None and header != field:
        raise exceptions.ValidationError({FIELD: [f"differs from the {HEADER} header; send one key."]})
    return header if header is not None else field  # type: ignore[return-value]


def fingerprint(*parts: Any) -> str:
    """A digest of what a request asks for (canonical JSON, so key order does not matter)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim_for(request, key: str | None, *parts: Any) -> Claim | None:
    """The claim of an API request under `key` (None without a key); `parts` say what it asks for."""
    if key is None:
        return None
    return Claim(request.auth.project.id, request.auth.pk, key, fingerprint(*parts))


def expires_at(now=None):
    return (now or timezone.now()) + timedelta(hours=settings.WARDEN_IDEMPOTENCY_TTL_HOURS)


def stored_find(*, api_key_id: int, key: str) -> Stored | None:
    with connection.cursor() as cursor:
        cursor.execute(IDEMPOTENCY_FIND_SQL, [api_key_id, key])
        row = cursor.fetchone()
    if row is None:
        return None
    response = json.loads(row[2]) if isinstance(row[2], str | bytes) else row[2]
    return Stored(row[0], row[1], response)


def stored_for(stored: Stored, claim: Claim) -> Stored:
    """The stored answer, if it answered this very request; IdempotencyKeyReused otherwise."""
    if stored.fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused()
    return stored


def idempotency_record(*, claim: Claim, response: Any, status: int = 200) -> None:
    """Records the answer under the claim. Call inside the write's transaction: a key already
    taken raises IntegrityError (key_taken says so) and the write rolls back with it."""
    now = timezone.now()
    values = (claim.project_id, claim.api_key_id, claim.key, claim.fingerprint, status, Jsonb(response), now,
              expires_at(now))
    with connection.cursor() as cursor:
        cursor.execute(f"{IDEMPOTENCY_INSERT} VALUES ({', '.join(['%s'] * len(IDEMPOTENCY_COLUMNS))})", values)


def key_taken(exc: IntegrityError) -> bool:
    """The error is another request having recorded the same key first."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == CONSTRAINT


def idempotent(*, claim: Claim | None, write: Callable[[], tuple[Any, int]]) -> tuple[Any, int]:
    """(response, status) of `write()`, done at most once per claim; a retry gets the stored answer.

    `write` runs in a transaction with the key's record; an error it raises records nothing (the
    client can fix the request and send it again under the same key).
    """
    if claim is None:
        return write()
    stored = stored_find(api_key_id=claim.api_key_id, key=claim.key)
    if stored is None:
        try:
            with transaction.atomic():
                response, status = write()
                idempotency_record(claim=claim, response=response, status=status)
            return response, status
        except IntegrityError as exc:
            if not key_taken(exc):
                raise
        stored = stored_find(api_key_id=claim.api_key_id, key=claim.key)
        assert stored is not None  # the request that took the key committed it
    stored = stored_for(stored, claim)
    return stored.response, stored.status


def idempotency_purge(*, now=None) -> int:
    """Deletes keys past their expiry; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
