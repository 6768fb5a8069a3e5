"""An error no view handled: the database being unavailable is a 503 with Retry-After, JSON on API paths."""

import json

from django.db import OperationalError
from django.test import RequestFactory

from apps.core.errors import server_error


def _answer(path: str, exc: Exception):
    try:
        raise exc
    except Exception:  # noqa: BLE001 - Django calls handler500 inside the except block
        return server_error(RequestFactory().get(path))


def test_an_api_call_while_the_database_is_unavailable_is_a_json_503_with_retry_after():
    response = _answer("/api/v1/decide", OperationalError("connection refused"))
    assert (response.status_code, response["Content-Type"]) == (503, "application/json")
    assert json.loads(response.content)["error"]["code"] == "unavailable"
    assert int(response["Retry-After"]) > 0


def test_a_page_while_the_database_is_unavailable_is_a_503_page_that_needs_no_database():
    response = _answer("/p/acme/traces/", OperationalError("the database did not answer within 25 s"))
    assert response.status_code == 503 and b"retry" in response.content and response["Retry-After"]


def test_any_other_error_on_an_api_path_is_a_json_500_without_retry_after():
    response = _answer("/v1/traces", ValueError("bug"))
    assert response.status_code == 500 and json.loads(response.content)["error"]["code"] == "server_error"
    assert not response.has_header("Retry-After")
