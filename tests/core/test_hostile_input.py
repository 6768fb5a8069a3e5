"""Hostile requests on every endpoint: a fast 4xx naming the field, and nothing written.

One place per rule: apps/core/jsonbody.py (JSON bodies), apps/core/middleware.py (NUL in paths and
queries, body limits, chunked bodies).
"""

import gzip
import json

import pytest
from django.test import override_settings

from apps.audit.models import GovernanceLogEntry
from apps.governance.models import GraphVersion, Sanction
from apps.policies.models import Decision, PolicyVersion
from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes"


@pytest.fixture
def client(project, make_key, api):
    return api(make_key(project, ["ingest", "decide", "read", "admin"]))


@pytest.fixture
def episode(client):
    assert client.post(EPISODES, {"external_id": "ep-1"}, format="json").status_code == 201
    return "ep-1"


def written() -> tuple[int, ...]:
    return (Episode.objects.count(), Step.objects.count(), Decision.objects.count(), Sanction.objects.count(),
            PolicyVersion.objects.count(), GraphVersion.objects.count(), GovernanceLogEntry.objects.count())


def post_raw(client, url: str, text: str, content_type: str = "application/json"):
    return client.generic("POST", url, text.encode("utf-8", "surrogatepass"), content_type=content_type)


# Where each body puts the hostile value: endpoint, body with VALUE as a placeholder, the field named.
BODIES = [
    ("episode config", EPISODES, '{"external_id": "ep-2", "config": {"temperature": VALUE}}', "config.temperature"),
    ("episode versions", EPISODES, '{"external_id": "ep-2", "versions": {"policy": VALUE}}', "versions.policy"),
    ("episode outcome", f"{EPISODES}/ep-1/end", '{"status": "completed", "outcome": {"score": VALUE}}', "outcome.score"),
    ("steps", f"{EPISODES}/ep-1/steps", '{"steps": [{"kind": "action", "tool": "t", "arguments": {"x": VALUE}}]}',
     "steps[0].arguments.x"),
    ("decide", "/api/v1/decide", '{"episode": "ep-1", "tool": "t", "arguments": {"x": VALUE}}', "arguments.x"),
    ("sanction details", "/api/v1/governance/sanctions",
     '{"agent": "a", "kind": "fine", "reason": "r", "details": {"amount": VALUE}}', "details.amount"),
    ("otlp json", "/v1/traces", '{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + "a" * 32
     + '", "spanId": "' + "b" * 16 + '", "startTimeUnixNano": VALUE}]}]}]}',
     "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano"),
]
VALUES = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e400": "1e400",
          "5000 digits": "9" * 5000, "NUL": '"a\\u0000b"', "lone surrogate": '"\\ud800"'}


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize(("where", "url", "body", "field"), BODIES, ids=[b[0] for b in BODIES])
def test_a_hostile_json_value_is_a_400_naming_its_field_and_writes_nothing(client, episode, where, url, body,
                                                                          field, value):
    before = written()
    response = post_raw(client, url, body.replace("VALUE", VALUES[value]))
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert written() == before


def test_the_jsonl_import_names_the_line_and_field_of_a_lone_surrogate(client):
    lines = '{"type": "episode", "external_id": "imp"}\n{"type": "step", "episode": "imp", "kind": "message", "content": "\\udc00"}\n'
    response = post_raw(client, "/api/v1/traces/import", lines, "application/x-ndjson")
    assert response.status_code == 400
    assert "line 2.content" in response.json()["error"]["message"]
    assert not Episode.objects.filter(external_id="imp").exists()


DEEP_ENDPOINTS = [EPISODES, f"{EPISODES}/ep-1/steps", f"{EPISODES}/ep-1/end", "/api/v1/decide", "/api/v1/narrow",
                  "/api/v1/policies/publish", "/api/v1/contracts", "/api/v1/contracts/validate",
                  "/api/v1/contracts/whatif", "/api/v1/governance/graphs/publish", "/api/v1/governance/sanctions",
                  "/v1/traces"]


@pytest.mark.parametrize("url", DEEP_ENDPOINTS)
def test_json_nested_5000_deep_is_a_400_without_recursion_errors(client, episode, url):
    before = written()
    response = post_raw(client, url, '{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    assert response.status_code == 400, response.content
    assert "nested deeper than 64 levels" in response.content.decode()
    assert written() == before


LIMITED = ["/api/v1/decide", "/api/v1/policies/publish", "/api/v1/contracts", "/api/v1/governance/graphs/publish",
           "/api/v1/narrow", "/api/v1/governance/sanctions", EPISODES, "/v1/traces"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("url", LIMITED)
def test_a_body_over_the_limit_is_the_json_413(client, url):
    before = written()
    response = post_raw(client, url, json.dumps({"source": "x" * 2000, "episode": "e", "tool": "t"}))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert written() == before


@pytest.mark.parametrize("url", ["/p/acme/policies/new/", "/login/"])
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_page_post_over_the_limit_is_413_too(client, url):
    assert client.post(url, {"source": "x" * 2000}).status_code == 413


def test_a_chunked_body_the_server_did_not_dechunk_is_411(client):
    """Django's own server leaves chunked bodies encoded; gunicorn's case is in test_chunked_bodies.py."""
    response = client.generic("POST", "/api/v1/decide", b'{"episode": "e", "tool": "t"}', content_type="application/json",
                              CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411 and response.json()["error"]["code"] == "length_required"
    assert not Decision.objects.exists()


NUL_QUERIES = ["/api/v1/episodes?agent=a%00b", "/api/v1/decisions?tool=%00", "/api/v1/violations?status=%00",
               "/api/v1/contracts/verdicts?episode=%00", "/api/v1/governance/log?event=%00",
               "/api/v1/governance/sanctions?agent=%00", "/api/v1/traces/export?q=%00"]


@pytest.mark.parametrize("url", NUL_QUERIES)
def test_nul_in_a_query_filter_is_a_400_naming_the_parameter(client, url):
    response = client.get(url)
    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert name in response.json()["error"]["fields"]


NUL_PATHS = ["/api/v1/episodes/a%00b", "/api/v1/episodes/a%00b/steps", "/api/v1/contracts/a%00b",
             "/api/v1/contracts/metrics/a%00b", "/api/v1/governance/agents/a%00b"]


@pytest.mark.parametrize("url", NUL_PATHS)
def test_nul_in_a_path_segment_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400 and "path" in response.json()["error"]["fields"]


@pytest.mark.parametrize("url", ["/p/acme/traces/?agent=%00", "/p/acme/traces/x/a%00b/", "/p/acme/policies/decisions/?tool=%00",
                                 "/p/acme/reviews/?status=%00", "/p/acme/governance/agents/a%00b/",
                                 "/p/acme/governance/log/?event=%00", "/graphs/acme%00/"])
def test_nul_in_a_page_address_is_a_400(login, admin, url):
    assert login(admin).get(url).status_code == 400


def test_a_step_index_above_the_documented_maximum_is_refused(client, episode):
    before = written()
    response = client.post(f"{EPISODES}/{episode}/steps", {"steps": [{"index": 2_000_000_000, "kind": "message"}]},
                           format="json")
    assert response.status_code == 400 and "steps[0].index" in response.json()["error"]["fields"]
    assert written() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
@pytest.mark.parametrize("url", [EPISODES, f"{EPISODES}/ep-1/steps", f"{EPISODES}/ep-1/end", "/v1/traces"])
def test_trace_endpoints_answer_415_to_bodies_that_are_not_json(client, episode, url, content_type):
    before = written()
    response = post_raw(client, url, '{"external_id": "ep-9", "steps": [{"kind": "message"}], "status": "completed"}',
                        content_type)
    assert response.status_code == 415
    assert written() == before


def test_a_gzipped_json_value_is_checked_too(client, episode):
    body = gzip.compress(b'{"steps": [{"kind": "message", "attributes": {"x": NaN}}]}')
    response = client.generic("POST", f"{EPISODES}/{episode}/steps", body, content_type="application/json",
                              HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400 and "steps[0].attributes.x" in response.json()["error"]["fields"]
