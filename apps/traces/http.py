"""Request bodies for ingestion: size limits (413), gzip, and JSON errors that say where."""

import gzip
import zlib
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions

from apps.core.errors import error_response
from apps.core.jsonbody import JsonBodyError, json_parse
from apps.core.parsers import json_error


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = "Request body too large."


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def read_body(request) -> bytes:
    """The raw body, gunzipped if sent with Content-Encoding: gzip; 413 past the limit.

    The decompressed size is bounded too (4x the body limit), so a small gzip bomb is refused
    before it fills memory.
    """
    limit = max_body_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {limit}.")
    try:
        body = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.") from None
    encoding = (request.META.get("HTTP_CONTENT_ENCODING") or "identity").lower().strip()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise exceptions.ParseError(f"Content-Encoding '{encoding}' is not supported; use gzip or identity.")
    decoder = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        out = decoder.decompress(body, 4 * limit)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise exceptions.ParseError(f"Body is not valid {encoding}: {exc}") from None
    if decoder.unconsumed_tail:
        raise PayloadTooLarge(f"Decompressed body exceeds {4 * limit} bytes.")
    return out


def parse_json(body: bytes) -> Any:
    """The body through the one JSON reader (apps/core/jsonbody.py): a bad value is a 400 naming it."""
    try:
        return json_parse(body)
    except JsonBodyError as exc:
        raise json_error(exc) from None


def is_json(request) -> bool:
    content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    return content_type == "application/json" or (content_type.startswith("application/")
                                                   and content_type.endswith("+json"))


def read_json(request) -> Any:
    """The JSON body; 415 for any other content type (as /decide answers), 413 past the limit."""
    if not is_json(request):
        raise exceptions.UnsupportedMediaType(request.META.get("CONTENT_TYPE") or "none",
                                              detail="Content-Type must be application/json.")
    return parse_json(read_body(request))


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


def spec_body(request, *, field: str, what: str) -> dict | str:
    """A spec sent as JSON (a checked mapping) or YAML (its text, for the caller's own loader).

    JSON goes through the one JSON reader, so NaN, Infinity and the other refused values are a 400
    naming their path as in every other body; errors about the body as a whole name `field`.
    """
    body = read_body(request)
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise exceptions.ValidationError({field: ["the body is not UTF-8"]}) from None
    if content_type == "application/json":
        data = parse_json(body)
        if not isinstance(data, dict):
            raise exceptions.ValidationError({field: [f"send the {what} spec as a JSON object"]})
        return data
    if content_type in YAML_TYPES:
        return text
    raise exceptions.UnsupportedMediaType(content_type or "none",
                                          detail="Send the spec as application/json or application/yaml.")


def step_conflict_response(index: int) -> JsonResponse:
    """409 for a step index that already holds different content (ingestion and /decide alike)."""
    return error_response(409, "step_conflict",
                          f"step_index: step {index} already holds another step; nothing was written.", index=index)
