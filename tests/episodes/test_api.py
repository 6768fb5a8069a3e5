"""POST/GET /api/v1/runs: specs as JSON or YAML, 400s naming the field, idempotent run ids, scopes."""

import json
import re

import pytest

from apps.episodes.models import Run
from tests.episodes.builders import ledger_spec

pytestmark = pytest.mark.django_db

YAML = """\
id: yaml-run
environment: {kind: ledger, rounds: 2}
agents:
  - {name: a, kind: scripted, plan: [[{tool: add, arguments: {amount: 1}}]]}
regime: constitutional
seed: 3
"""


@pytest.fixture
def client(api, project, make_key):
    return api(make_key(project, scopes=["ingest", "decide", "read"]))


def _post(client, body, content_type="application/json"):
    data = json.dumps(body) if content_type == "application/json" else body
    return client.generic("POST", "/api/v1/runs", data, content_type=content_type)


def test_a_json_spec_queues_a_run(client):
    response = _post(client, ledger_spec(id="json-run"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["id"], body["status"], body["regime"], body["rounds_total"]) == ("json-run", "queued", "ungoverned", 3)
    assert body["versions"]["policy_name"] == "runs-allow-all"


def test_a_yaml_spec_queues_a_run_and_records_the_constitution_nobody_scripted_reads(client):
    response = _post(client, YAML, "application/yaml")
    assert response.status_code == 201, response.content
    constitution = response.json()["evidence"]["constitution"]
    assert constitution["ignored_by"] == ["a"] and "instructions" in constitution["text"]


@pytest.mark.parametrize(("spec", "field"), [
    ({"agents": [{"kind": "scripted"}]}, "environment"),
    ({**ledger_spec(), "environment": {"kind": "moon"}}, "environment.kind"),
    ({**ledger_spec(), "agents": [{"kind": "robot"}]}, "agents[0].kind"),
    ({**ledger_spec(), "regime": "anarchy"}, "regime"),
    ({**ledger_spec(), "seed": "seven"}, "seed"),
    ({**ledger_spec(), "rounds": 0}, "rounds"),
    ({**ledger_spec(), "faults": {"rate": 3}}, "faults.rate"),
    ({**ledger_spec(), "colour": "blue"}, "colour"),
    ({**ledger_spec(), "environment": {"kind": "ledger", "size": 3}}, "environment.size"),
    ({**ledger_spec(regime="institutional"), "versions": {"policy": "nope"}}, "versions.policy"),
    ({**ledger_spec(), "versions": {"policy": "x"}}, "versions.policy"),
])
def test_a_bad_spec_is_a_400_naming_the_field_and_writes_nothing(client, spec, field):
    response = _post(client, spec)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert error["message"].startswith(f"{field}:")
    assert Run.objects.count() == 0


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"


def test_a_yaml_alias_bomb_or_a_duplicate_key_is_a_400_and_starts_nothing(client):
    for body in (BOMB, "environment: {kind: ledger}\nenvironment: {kind: cournot}\n"):
        response = _post(client, body, "application/yaml")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["message"].startswith("spec:")
    assert Run.objects.count() == 0


def test_malformed_yaml_is_a_400_naming_the_line(client):
    response = _post(client, "environment: {kind: [", "application/yaml")
    assert response.status_code == 400
    assert re.search(r"^spec: line \d+: not valid YAML", response.json()["error"]["message"])


def test_infinity_in_a_json_spec_is_a_400_naming_its_path_and_writes_nothing(client):
    body = json.dumps({**ledger_spec(), "rounds": 1}).replace('"rounds": 1', '"rounds": Infinity')
    response = client.post("/api/v1/runs", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith("rounds:")
    assert Run.objects.count() == 0


def test_another_content_type_is_415(client):
    assert _post(client, "<spec/>", "application/xml").status_code == 415


def test_the_same_id_and_spec_answers_the_run_already_made_and_another_spec_409(client):
    assert _post(client, ledger_spec(id="once")).status_code == 201
    again = _post(client, ledger_spec(id="once"))
    assert again.status_code == 200 and again.json()["id"] == "once"
    conflict = _post(client, ledger_spec(id="once", seed=99))
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "run_conflict"
    assert Run.objects.count() == 1


def test_runs_are_listed_read_and_cancelled_within_the_project(client, api, other_project, make_key):
    _post(client, ledger_spec(id="mine"))
    listed = client.get("/api/v1/runs?status=queued").json()
    assert [r["id"] for r in listed["results"]] == ["mine"] and listed["count"] == 1
    assert client.get("/api/v1/runs/mine").json()["spec"]["environment"]["kind"] == "ledger"
    outsider = api(make_key(other_project, scopes=["read", "ingest", "decide"]))
    assert outsider.get("/api/v1/runs/mine").status_code == 404
    assert outsider.get("/api/v1/runs").json()["count"] == 0
    cancelled = client.post("/api/v1/runs/mine/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post("/api/v1/runs/mine/cancel")
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]


def test_starting_a_run_needs_the_ingest_and_decide_scopes(api, project, make_key):
    reader = api(make_key(project, scopes=["read"]))
    response = _post(reader, ledger_spec())
    assert response.status_code == 403 and "'ingest' and 'decide'" in response.json()["error"]["message"]
    assert reader.get("/api/v1/runs").status_code == 200


def test_snapshots_are_served_as_json(client):
    _post(client, ledger_spec(id="snap"))
    body = client.get("/api/v1/runs/snap/snapshots").json()
    assert body == {"id": "snap", "before": None, "after": None}
