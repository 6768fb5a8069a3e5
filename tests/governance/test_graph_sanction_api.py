"""Graphs and sanctions over the API: admin-scoped writes, field-named errors, project isolation."""

import pytest

from apps.governance.controller import sanction_apply
from apps.governance.models import GraphVersion, Sanction
from apps.governance.selectors import agent_governance_state
from tests.governance.builders import MARKET

pytestmark = pytest.mark.django_db


def test_admin_key_publishes_a_graph_and_gets_its_public_url(api, make_key, project):
    response = api(make_key(project, scopes=["admin"])).post("/api/v1/governance/graphs/publish", {"source": MARKET},
                                                             format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["public_url"] == f"/graphs/acme/{body['digest']}/"
    assert body["is_active"] is True


def test_publishing_an_invalid_graph_returns_400_naming_source_and_line(api, make_key, project):
    response = api(make_key(project, scopes=["admin"])).post(
        "/api/v1/governance/graphs/publish", {"source": MARKET.replace("initial: compliant", "initial: nirvana")},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["source"] == ["line 3: initial: unknown state 'nirvana'"]
    assert not GraphVersion.objects.exists()


def test_read_key_cannot_publish_or_sanction(api, make_key, project):
    client = api(make_key(project, scopes=["read"]))
    assert client.post("/api/v1/governance/graphs/publish", {"source": MARKET}, format="json").status_code == 403
    body = {"agent": "t", "kind": "suspend", "reason": "x"}
    assert client.post("/api/v1/governance/sanctions", body, format="json").status_code == 403


def test_admin_key_applies_and_lifts_a_sanction(api, make_key, project):
    client = api(make_key(project, scopes=["admin"]))
    created = client.post("/api/v1/governance/sanctions",
                          {"agent": "trader", "kind": "tighten", "tool": "produce",
                           "details": {"quantity": {"maximum": 5}}, "reason": "cap output"}, format="json")
    assert created.status_code == 201
    assert agent_governance_state(project=project, agent="trader")["arg_bounds"] == {"produce": {"quantity": {"maximum": 5}}}
    lifted = client.post(f"/api/v1/governance/sanctions/{created.json()['id']}/lift", {"reason": "ok"}, format="json")
    assert lifted.status_code == 200 and lifted.json()["lift_reason"] == "ok"
    assert agent_governance_state(project=project, agent="trader")["arg_bounds"] == {}


def test_sanction_without_a_tool_for_revoke_names_the_field(api, make_key, project):
    response = api(make_key(project, scopes=["admin"])).post(
        "/api/v1/governance/sanctions", {"agent": "trader", "kind": "revoke", "reason": "x"}, format="json")
    assert response.status_code == 400
    assert "tool" in response.json()["error"]["fields"]
    assert not Sanction.objects.exists()


def test_key_cannot_lift_another_projects_sanction(api, make_key, project, other_project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="x")
    response = api(make_key(other_project, scopes=["admin"])).post(
        f"/api/v1/governance/sanctions/{sanction.id}/lift", {"reason": "x"}, format="json")
    assert response.status_code == 404
    assert agent_governance_state(project=project, agent="trader")["suspended"] is True


def test_sanction_list_filters_active_ones_of_the_keys_project(api, make_key, project, other_project):
    kept = sanction_apply(project=project, agent="a", kind="suspend", actor="rita", reason="x")
    sanction_apply(project=other_project, agent="a", kind="suspend", actor="oscar", reason="x")
    body = api(make_key(project)).get("/api/v1/governance/sanctions", {"active": "true"}).json()
    assert [s["id"] for s in body["results"]] == [kept.id]


def test_graph_list_shows_only_the_keys_project(api, make_key, project, other_project):
    from apps.governance.graphs import graph_publish

    graph_publish(project=other_project, source=MARKET, actor="oscar")
    assert api(make_key(project)).get("/api/v1/governance/graphs").json()["count"] == 0
