"""The answer to an error no view handled (Django's handler500).

The database being unavailable (down, restarting, not answering within its deadline, see
apps/core/db) is not a bug: it is a 503 with Retry-After, so clients and load balancers retry
instead of giving up. API paths answer in the API's JSON error shape, pages in plain HTML built
without the template context (whose processors would ask the database again).
"""

import sys
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

RETRY_AFTER_SECONDS = 5
API_PREFIXES = ("/api/", "/v1/")

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Warden: {title}</title></head>
<body><h1>{title}</h1><p>{message}</p></body></html>"""


def error_body(code: str, message: str, **extra: Any) -> dict:
    """The API's one error shape: `{"error": {"code", "message", "fields"?, ...}}`."""
    return {"error": {"code": code, "message": message, **extra}}


def error_response(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    """An API error answer in the one shape (DRF's exception handler builds the same body)."""
    return JsonResponse(error_body(code, message, **extra), status=status)


def database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError))


def server_error(request: HttpRequest) -> HttpResponse:
    if database_unavailable(sys.exc_info()[1]):
        status, code = 503, "unavailable"
        title, message = "Unavailable", "The database is not answering; retry in a few seconds."
    else:
        status, code = 500, "server_error"
        title, message = "Server error", "Something went wrong on the server; it has been logged."
    if request.path.startswith(API_PREFIXES):
        response: HttpResponse = error_response(status, code, message)
    else:
        response = HttpResponse(_PAGE.format(title=title, message=message), status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler404: a URL no route matches (e.g. a path parameter of the wrong type) is
    the API's JSON error on API paths, Django's page elsewhere."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"error": {"code": "not_found", "message": "No such API endpoint or object."}}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
