"""/api/v1/experiments: specs as JSON or YAML, 400s naming the field, scopes, project scoping, exports."""

import csv
import io
import json

import pytest

from apps.experiments.models import Experiment
from tests.experiments.builders import cournot_spec, play

pytestmark = pytest.mark.django_db

YAML = """\
name: yaml-experiment
run:
  environment: {kind: cournot, costs: 10}
  agents: [{name: f1, kind: cartel}, {name: f2, kind: tit_for_tat}]
  rounds: 3
matrix:
  regime: [ungoverned, institutional]
seeds: 2
"""


@pytest.fixture
def client(api, project, make_key):
    return api(make_key(project, scopes=["ingest", "decide", "read"]))


def _post(client, body, content_type="application/json", path="/api/v1/experiments"):
    data = json.dumps(body) if content_type == "application/json" else body
    return client.generic("POST", path, data, content_type=content_type)


def test_a_json_spec_creates_an_experiment(client):
    response = _post(client, cournot_spec(seeds=3))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["status"], body["total"], body["done"]) == ("cournot-test", "queued", 6, 0)
    assert [c["label"] for c in body["results"]["conditions"]] == ["regime=ungoverned", "regime=constitutional"]


def test_a_yaml_spec_creates_an_experiment(client):
    response = _post(client, YAML, "application/yaml")
    assert response.status_code == 201, response.content
    assert response.json()["total"] == 4 and response.json()["spec"]["seeds"] == 2


@pytest.mark.parametrize(("spec", "field"), [
    ({**cournot_spec(), "seeds": 0}, "seeds"),
    ({**cournot_spec(), "matrix": {"regime": []}}, "matrix.regime"),
    ({**cournot_spec(), "colour": "blue"}, "colour"),
    ({**cournot_spec(), "baseline": "anarchy"}, "baseline"),
    ({**cournot_spec(), "name": ""}, "name"),
    ({**cournot_spec(), "matrix": {"regime": ["ungoverned", "anarchy"]}}, "run.regime"),
    ({**cournot_spec(), "run": {"environment": {"kind": "moon"}, "agents": [{"kind": "cartel"}]}},
     "run.environment.kind"),
])
def test_a_bad_spec_is_a_400_naming_the_field_and_writes_nothing(client, spec, field):
    response = _post(client, spec)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert response.json()["error"]["message"].startswith(f"{field}:")
    assert not Experiment.objects.exists()


def test_yaml_that_does_not_parse_is_a_400_naming_the_source(client):
    response = _post(client, "name: [unclosed", "application/yaml")
    assert response.status_code == 400 and "source" in response.json()["error"]["fields"]


def test_nan_in_a_json_spec_is_a_400_naming_its_path_and_writes_nothing(client):
    body = json.dumps(cournot_spec()).replace('"seeds": 2', '"seeds": NaN', 1)
    assert "NaN" in body
    response = client.post("/api/v1/experiments", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith("seeds:")
    assert not Experiment.objects.exists()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"


def test_a_yaml_alias_bomb_is_a_400_naming_the_source_and_writes_nothing(client):
    response = _post(client, BOMB, "application/yaml")
    assert response.status_code == 400, response.content
    assert "alias" in response.json()["error"]["message"] and "source" in response.json()["error"]["fields"]
    assert not Experiment.objects.exists()


def test_another_content_type_is_a_415(client):
    assert _post(client, "x", "text/csv").status_code == 415


def test_the_list_is_paginated_and_scoped_to_the_keys_project(client, api, make_key, other_project):
    for _ in range(3):
        _post(client, cournot_spec(seeds=1))
    body = client.get("/api/v1/experiments?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    theirs = api(make_key(other_project, scopes=["read"]))
    assert theirs.get("/api/v1/experiments").json()["count"] == 0
    mine = Experiment.objects.first()
    assert theirs.get(f"/api/v1/experiments/{mine.pk}").status_code == 404
    theirs_writer = api(make_key(other_project, scopes=["ingest", "decide"]))
    assert theirs_writer.post(f"/api/v1/experiments/{mine.pk}/cancel").status_code == 404


def test_reading_needs_the_read_scope_and_creating_needs_ingest_and_decide(api, project, make_key):
    reader = api(make_key(project, scopes=["read"]))
    assert _post(reader, cournot_spec()).status_code == 403
    writer = api(make_key(project, scopes=["ingest", "decide"]))
    assert _post(writer, cournot_spec()).status_code == 201
    assert writer.get("/api/v1/experiments").status_code == 403
    assert api().get("/api/v1/experiments").status_code in (401, 403)


def test_detail_and_exports_carry_the_result_table(client, project):
    experiment = Experiment.objects.get(pk=_post(client, cournot_spec(seeds=2)).json()["id"])
    play(experiment)
    body = client.get(f"/api/v1/experiments/{experiment.pk}").json()
    assert body["status"] == "completed" and body["progress"] == 100
    row = body["results"]["conditions"][0]["metrics"]["collusion_tier"]
    assert row["n"] == 2 and row["kind"] == "mean"
    exported = client.get(f"/api/v1/experiments/{experiment.pk}/results.json").json()
    assert exported["results"] == body["results"] and exported["spec"]["name"] == "cournot-test"
    response = client.get(f"/api/v1/experiments/{experiment.pk}/results.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    tier = [r for r in rows if r["metric"] == "collusion_tier"]
    assert [r["condition"] for r in tier] == ["regime=ungoverned", "regime=constitutional"]
    assert tier[1]["difference"] == "0.0" and tier[0]["difference"] == ""
    assert client.get(f"/api/v1/experiments/{experiment.pk}/results.xml").status_code == 404
    trials = client.get(f"/api/v1/experiments/{experiment.pk}/trials?condition=1").json()
    assert trials["count"] == 2 and trials["results"][0]["run"].startswith(f"x{experiment.pk}-")
    assert client.get(f"/api/v1/experiments/{experiment.pk}/trials?condition=9").status_code == 400


def test_cancel_retry_and_rerun(client):
    experiment_id = _post(client, cournot_spec(seeds=1)).json()["id"]
    response = client.post(f"/api/v1/experiments/{experiment_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/experiments/{experiment_id}/cancel").status_code == 400
    response = client.post(f"/api/v1/experiments/{experiment_id}/retry")
    assert response.status_code == 200 and response.json()["cancelled"] == 0
    response = client.post(f"/api/v1/experiments/{experiment_id}/rerun")
    assert response.status_code == 201 and response.json()["rerun_of"] == experiment_id
