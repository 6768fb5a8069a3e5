"""Refusals that hold for every endpoint and page, before any view reads the request.

- NUL in the path or the query string: 400 naming the parameter (PostgreSQL text cannot hold
  NUL, so it would otherwise surface as a 500 from whichever query used it).
- A body over WARDEN_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE): 413 before it is read.
- A chunked body (no Content-Length): read here, bounded, when the server de-chunked it
  (gunicorn says so with `wsgi.input_terminated`), so views see it whole; otherwise 411.
API paths get the JSON error shape (`{"error": {"code", "message", "fields"?}}`), pages plain text.
"""

import io
from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core.errors import API_PREFIXES, error_response


def _error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None) -> HttpResponse:
    if request.path_info.startswith(API_PREFIXES):
        fields = {"fields": {field: [message.split(": ", 1)[-1]]}} if field else {}
        return error_response(status, code, message, **fields)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _nul_field(request: HttpRequest) -> str | None:
    if "\x00" in request.path_info:
        return "path"
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "") or "query"
        return "query"
    return None


def _content_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH") or ""
    if not raw.strip():
        return None
    try:
        length = int(raw)
    except ValueError:
        return -1
    return length


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _nul_field(request)
        if field is not None:
            where = "the path" if field == "path" else f"query parameter '{field}'"
            return _error(request, 400, "invalid", f"{field}: {where} contains a NUL character", field)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = _content_length(request)
        if length is not None and length < 0:
            return _error(request, 400, "invalid", "Content-Length is not a number of bytes.")
        if length is not None and limit is not None and length > limit:
            return _error(request, 413, "too_large", f"Request body is {length} bytes; the limit is {limit}.")
        if length is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            refused = self._read_chunked(request, limit)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _read_chunked(self, request: HttpRequest, limit: int | None) -> HttpResponse | None:
        """Reads a de-chunked body (bounded by the limit) so Django and DRF see its length."""
        if not request.META.get("wsgi.input_terminated"):
            return _error(request, 411, "length_required",
                          "Send a Content-Length header: this server cannot read chunked bodies.")
        stream = request.META["wsgi.input"]
        cap = (limit or 0) + 1 if limit is not None else -1
        body = stream.read(cap) if cap > 0 else stream.read()
        if limit is not None and len(body) > limit:
            return _error(request, 413, "too_large", f"Request body exceeds the limit of {limit} bytes.")
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = io.BytesIO(body)  # what HttpRequest.read() and .body read from
        return None


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy (settings.WARDEN_CSP) to every response that lacks one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.WARDEN_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response
