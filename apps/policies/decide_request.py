"""A plainly valid POST /decide, parsed and authenticated without the API framework's per-request work.

Runtimes call /decide before every tool call, so its framework overhead (request wrapping,
content negotiation, serializer fields, rendering) is paid hundreds of times a second. This
path handles a request only when it is plainly valid: a live key with the `decide` scope, a
JSON object whose fields have the right types and lengths. Anything else returns None and the
DecideApi view handles the request, so every error (and its message naming the field) has one
implementation. Both paths call the same decision service and return the same JSON.
"""

import json
from typing import TypeGuard

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import AuthenticationFailed

from apps.core.jsonbody import JsonBodyError, json_parse
from apps.policies import decisions, prefetch, sql
from apps.policies.records import DecideInput
from apps.tenancy import idempotency
from apps.tenancy.auth import key_check, key_from_row, key_prefix
from apps.tenancy.limits import api_key_counted
from apps.traces import schema

_TOP_LEVEL = frozenset(("episode", "agent", "tool", "arguments", "step_index", "context", idempotency.FIELD))
_CONTEXT = frozenset(("untrusted", "environment"))
MAX_NAME = 200
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def decide(request: HttpRequest, render) -> HttpResponse | None:
    """The decision as a response, or None to let the full view handle the request.

    `render(decision) -> dict` builds the response body (the view's representation).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    accept = request.META.get("HTTP_ACCEPT", "*/*")
    if (not header.startswith("Bearer ") or request.content_type != "application/json"
            or not ("json" in accept or "*/*" in accept)):
        return None
    call = _call(request.body, request.META.get("HTTP_IDEMPOTENCY_KEY"))
    if call is None:
        return None
    data, idempotency_key = call
    raw = header[7:].strip()
    prefix = key_prefix(raw)
    try:
        # The key, the decision's context (with the provenance rows its policy will ask for) and any
        # answer stored under the idempotency key come back in one round trip; the rest is used only
        # once the key has been checked.
        values = prefetch.provenance_values(project_id=prefetch.project_of_key(prefix), data=data)
        key_row, context = sql.decide_context_by_key(prefix=prefix, external_id=data.episode, agent=data.agent,
                                                     idempotency_key=idempotency_key, provenance=values)
        key = key_check(None if key_row is None else key_from_row(key_row), raw)
    except AuthenticationFailed:
        return None
    prefetch.remember_key(prefix=prefix, project_id=key.project.id)
    if not key.has_scope("decide") or api_key_counted(request, key_id=key.pk) is not None:
        return None  # the view answers (its authentication reuses this count: a request counts once)
    if idempotency_key is not None:
        data.idempotency = idempotency.Claim(key.project.id, key.pk, idempotency_key, data.fingerprint())
    try:
        decision = decisions.decision_make(project=key.project, data=data, actor=f"key:{key.name}", context=context)
    except (schema.InvalidInput, idempotency.IdempotencyKeyReused):
        return None  # nothing was stored; the view reports the field (without counting the request again)
    return HttpResponse(_ENCODER.encode(render(decision)).encode(), content_type="application/json")


def _name(value: object, *, optional: bool = False) -> TypeGuard[str]:
    """What the view's CharField(max_length=200) accepts unchanged (no trimming, no NUL)."""
    return (type(value) is str and len(value) <= MAX_NAME and (optional or value != "")
            and value == value.strip() and "\x00" not in value)


def _call(body: bytes, header_key: str | None) -> tuple[DecideInput, str | None] | None:
    """The call and its idempotency key (header or field), if both are plainly valid."""
    try:
        payload = json_parse(body)  # the API's JSON reader: the view reports what it refuses
    except JsonBodyError:
        return None
    if type(payload) is not dict or not payload.keys() <= _TOP_LEVEL or payload.get("step_index") is not None:
        return None
    episode, tool, agent = payload.get("episode"), payload.get("tool"), payload.get("agent", "")
    arguments, context = payload.get("arguments", {}), payload.get("context", {})
    if not (_name(episode) and _name(tool) and _name(agent, optional=True) and type(arguments) is dict
            and type(context) is dict and context.keys() <= _CONTEXT):
        return None
    untrusted, environment = context.get("untrusted", False), context.get("environment", "")
    if type(untrusted) is not bool or not _name(environment, optional=True):
        return None
    field_key = payload.get(idempotency.FIELD)
    if not all(k is None or idempotency.key_valid(k) for k in (header_key, field_key)) or (
            header_key is not None and field_key is not None and header_key != field_key):
        return None
    return DecideInput(episode=episode, agent=agent, tool=tool, arguments=arguments, untrusted=untrusted,
                       environment=environment or None), header_key if header_key is not None else field_key
