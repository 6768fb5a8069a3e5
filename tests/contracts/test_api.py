"""Contracts API: scopes, errors that name the field, verdicts, and project isolation."""

import pytest

from apps.contracts import services
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act, say

pytestmark = pytest.mark.django_db


def test_an_admin_key_publishes_a_contract(project, make_key, api):
    client = api(make_key(project, ["admin"]))
    r = client.post("/api/v1/contracts", {"source": NO_DELETE}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["number"] == 1 and r.json()["changed"] is True
    again = client.post("/api/v1/contracts", {"source": NO_DELETE}, format="json")
    assert again.status_code == 200 and again.json()["changed"] is False


def test_a_read_key_cannot_publish(project, make_key, api):
    r = api(make_key(project, ["read", "ingest"])).post("/api/v1/contracts", {"source": NO_DELETE}, format="json")
    assert r.status_code == 403
    assert "admin" in r.json()["error"]["message"]


def test_an_invalid_contract_is_a_400_naming_field_and_line(project, make_key, api):
    source = "name: bad\nrules:\n  - within: {after: {tool: a}, expect: {tool: b}, steps: -1}\n"
    r = api(make_key(project, ["admin"])).post("/api/v1/contracts", {"source": source}, format="json")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("source:") and "rules[0].within.steps" in message and "line 3" in message


def test_a_missing_source_is_a_400_naming_the_field(project, make_key, api):
    r = api(make_key(project, ["admin"])).post("/api/v1/contracts", {}, format="json")
    assert r.status_code == 400 and "source" in r.json()["error"]["fields"]


def test_validate_compiles_without_publishing(project, make_key, api):
    r = api(make_key(project, ["read"])).post("/api/v1/contracts/validate", {"source": NO_DELETE}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "no-deletes"
    assert api(make_key(project, ["read"])).get("/api/v1/contracts").json()["count"] == 0


def test_contract_detail_lists_versions_newest_first(project, make_key, api):
    publish(project, NO_DELETE)
    publish(project, NO_DELETE.replace("high", "low"))
    body = api(make_key(project, ["read"])).get("/api/v1/contracts/no-deletes").json()
    assert [v["number"] for v in body["versions"]] == [2, 1]
    assert body["current"]["number"] == 2


def test_verdicts_are_listed_and_filtered_by_episode_and_status(project, make_key, api):
    publish(project, NO_DELETE)
    for ext, tool in (("bad", "delete_file"), ("good", "list")):
        services.episode_check(episode=ingest(project, ext, [act(tool), say("done")], end="completed"))
    client = api(make_key(project, ["read"]))
    fails = client.get("/api/v1/contracts/verdicts", {"status": "fail"}).json()
    assert [(v["episode"], v["first_violating_step"]) for v in fails["results"]] == [("bad", 0)]
    good = client.get("/api/v1/contracts/verdicts", {"episode": "good"}).json()["results"]
    assert [v["status"] for v in good] == ["pass"]


def test_check_endpoint_rechecks_one_episode(project, make_key, api):
    publish(project, NO_DELETE)
    ingest(project, "ep", [act("delete_x")], end="completed")
    r = api(make_key(project, ["admin"])).post("/api/v1/contracts/check", {"episode": "ep"}, format="json")
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "fail"


def test_check_of_an_unknown_episode_is_a_404(project, make_key, api):
    r = api(make_key(project, ["admin"])).post("/api/v1/contracts/check", {"episode": "nope"}, format="json")
    assert r.status_code == 404


def test_a_key_of_another_project_sees_none_of_its_contracts_or_verdicts(project, other_project, make_key, api):
    publish(project, NO_DELETE)
    services.episode_check(episode=ingest(project, "ep", [act("delete_x")], end="completed"))
    client = api(make_key(other_project, ["admin"]))
    assert client.get("/api/v1/contracts").json()["count"] == 0
    assert client.get("/api/v1/contracts/no-deletes").status_code == 404
    assert client.get("/api/v1/contracts/verdicts").json()["count"] == 0
    assert client.post("/api/v1/contracts/check", {"episode": "ep"}, format="json").status_code == 404
    assert client.get("/api/v1/contracts/metrics/ep").status_code == 404


def test_publishing_in_another_project_does_not_touch_this_one(project, other_project, make_key, api):
    publish(project, NO_DELETE)
    r = api(make_key(other_project, ["admin"])).post(
        "/api/v1/contracts", {"source": NO_DELETE.replace("high", "low")}, format="json")
    assert r.status_code == 201 and r.json()["number"] == 1
    assert services.contract_publish(project=project, source=NO_DELETE, actor="a")[0].severity == "high"


def test_requests_without_a_key_are_refused(api):
    assert api().get("/api/v1/contracts").status_code in (401, 403)


def test_an_oversized_contract_is_a_400_and_nothing_is_published(project, make_key, api):
    source = NO_DELETE + "#" * 100_001
    r = api(make_key(project, ["admin"])).post("/api/v1/contracts", {"source": source}, format="json")
    assert r.status_code == 400 and "at most" in r.json()["error"]["message"]
    assert api(make_key(project, ["read"])).get("/api/v1/contracts").json()["count"] == 0
