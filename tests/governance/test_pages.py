"""Governance pages: roles, isolation, htmx fragments, and the public no-login graph pages."""

import pytest

from apps.audit.models import GovernanceLogEntry, GovernanceLogOutbox
from apps.governance.controller import sanction_apply
from apps.governance.graphs import graph_publish
from apps.governance.models import GraphVersion, Sanction
from apps.governance.selectors import agent_governance_state
from apps.tenancy.services import project_graphs_public_set
from tests.audit.builders import TABLE, as_superuser, defer_log, fill_log
from tests.governance.builders import MARKET, play_round

pytestmark = pytest.mark.django_db


def test_agents_page_lists_agents_with_their_state(login, viewer, project):
    graph_publish(project=project, source=MARKET, actor="alice")
    play_round(project, "trader-7", violations=[("critical", 1)])
    response = login(viewer).get("/p/acme/governance/")
    assert response.status_code == 200
    assert b"trader-7" in response.content and b"suspended" in response.content


def test_agents_page_has_an_empty_state(login, viewer, project):
    assert b"No agent has a governance state yet" in login(viewer).get("/p/acme/governance/").content


def test_agents_page_of_another_project_is_404_for_an_outsider(login, outsider, project):
    assert login(outsider).get("/p/acme/governance/").status_code == 404
    assert login(outsider).get("/p/acme/governance/log/").status_code == 404


def test_reviewer_applies_a_sanction_from_the_page(login, reviewer, project):
    response = login(reviewer).post(
        "/p/acme/governance/sanctions/",
        {"agent": "trader", "kind": "revoke", "tool": "send_*", "reason": "spam"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and b"<html" not in response.content
    assert agent_governance_state(project=project, agent="trader")["revoked_tools"] == ["send_*"]


def test_sanction_form_without_reason_names_the_field_and_writes_nothing(login, reviewer, project):
    response = login(reviewer).post(
        "/p/acme/governance/sanctions/", {"agent": "trader", "kind": "revoke", "tool": "x"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert not Sanction.objects.exists()


def test_viewer_cannot_apply_or_lift_sanctions(login, viewer, project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="x")
    client = login(viewer)
    assert client.post("/p/acme/governance/sanctions/",
                       {"agent": "t", "kind": "suspend", "reason": "x"}).status_code == 403
    assert client.post(f"/p/acme/governance/sanctions/{sanction.id}/lift/", {"reason": "x"}).status_code == 403
    assert agent_governance_state(project=project, agent="trader")["suspended"] is True


def test_reviewer_lifts_a_sanction_with_a_reason(login, reviewer, project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="x")
    response = login(reviewer).post(f"/p/acme/governance/sanctions/{sanction.id}/lift/", {"reason": "fixed"},
                                    headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert agent_governance_state(project=project, agent="trader")["suspended"] is False


def test_outsider_cannot_lift_another_projects_sanction(login, outsider, project, other_project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="x")
    response = login(outsider).post(f"/p/globex/governance/sanctions/{sanction.id}/lift/", {"reason": "x"})
    assert response.status_code == 404
    assert agent_governance_state(project=project, agent="trader")["suspended"] is True


def test_graph_editor_shows_validation_errors_with_lines(login, viewer, project):
    response = login(viewer).post("/p/acme/governance/graphs/",
                                  {"source": MARKET.replace("to: restricted\n", "to: jail\n"), "action": "check"},
                                  headers={"HX-Request": "true"})
    assert b"unknown state &#x27;jail&#x27;" in response.content
    assert b"line " in response.content


def test_only_admins_publish_graphs(login, reviewer, admin, project):
    assert login(reviewer).post("/p/acme/governance/graphs/", {"source": MARKET, "action": "publish"}).status_code == 403
    response = login(admin).post("/p/acme/governance/graphs/", {"source": MARKET, "action": "publish"})
    assert b'id="graph-published"' in response.content
    assert GraphVersion.objects.get(project=project).in_force


def test_log_page_paginates_and_filters_by_event(login, viewer, project):
    fill_log(project, 60)
    fill_log(project, 1, event="sanction.applied")
    client = login(viewer)
    page = client.get("/p/acme/governance/log/")
    assert b"Page 1 of 2" in page.content
    filtered = client.get("/p/acme/governance/log/", {"event": "sanction.applied"}, headers={"HX-Request": "true"})
    assert filtered.content.count(b"<tr") == 2  # header + the one entry


def test_the_log_page_is_a_read_it_says_what_waits_to_be_chained_and_chains_nothing(login, viewer, project):
    fill_log(project, 2)
    defer_log(project, 3)
    before = GovernanceLogEntry.objects.filter(project=project).count()
    body = login(viewer).get("/p/acme/governance/log/").content.decode()
    assert "3 events committed and waiting to be chained" in body and 'hx-trigger="every 2s"' in body
    assert GovernanceLogEntry.objects.filter(project=project).count() == before
    assert GovernanceLogOutbox.objects.filter(project=project).count() == 3


def test_verify_badge_reports_a_healthy_chain(login, viewer, project):
    fill_log(project, 3)
    response = login(viewer).get("/p/acme/governance/log/verify/", headers={"HX-Request": "true"})
    assert b"chain verified" in response.content


def test_verify_badge_names_the_broken_entry(login, viewer, project):
    fill_log(project, 3)
    as_superuser(f"UPDATE {TABLE} SET payload = '{{}}' WHERE project_id = %s AND seq = 2", [project.id])
    response = login(viewer).get("/p/acme/governance/log/verify/", headers={"HX-Request": "true"})
    assert b"broken at entry 2" in response.content


def test_public_graph_page_needs_no_login_and_draws_the_diagram(client, project):
    project_graphs_public_set(project=project, public=True, actor="alice")
    version = graph_publish(project=project, source=MARKET, actor="alice")
    response = client.get(f"/graphs/acme/{version.digest}/")
    assert response.status_code == 200
    assert b"<svg" in response.content and b'data-state="suspended"' in response.content
    assert version.digest.encode() in response.content


def test_public_graph_json_is_stable_and_complete(client, project):
    project_graphs_public_set(project=project, public=True, actor="alice")
    version = graph_publish(project=project, source=MARKET, actor="alice")
    body = client.get(f"/graphs/acme/{version.digest}.json").json()
    assert (body["digest"], body["name"], body["number"]) == (version.digest, "market-institution", 1)
    assert body["manifest"]["initial"] == "compliant"
    assert body["source"] == MARKET


def test_public_graph_of_another_project_is_not_found_by_its_digest(client, project, other_project):
    project_graphs_public_set(project=other_project, public=True, actor="oscar")
    version = graph_publish(project=project, source=MARKET, actor="alice")
    assert client.get(f"/graphs/globex/{version.digest}/").status_code == 404


def test_public_graph_list_shows_versions(client, project):
    project_graphs_public_set(project=project, public=True, actor="alice")
    graph_publish(project=project, source=MARKET, actor="alice")
    response = client.get("/graphs/acme/")
    assert b"market-institution v1" in response.content


def test_graphs_of_a_project_not_made_public_look_like_no_project_at_all(client, project):
    version = graph_publish(project=project, source=MARKET, actor="alice")
    nobody = client.get("/graphs/no-such-project/")
    for path in ("/graphs/acme/", f"/graphs/acme/{version.digest}/", f"/graphs/acme/{version.digest}.json"):
        response = client.get(path)
        assert response.status_code == 404
        assert b"Acme" not in response.content and b"market-institution" not in response.content
    assert nobody.status_code == 404


def test_members_read_their_private_graphs_and_outsiders_do_not(login, viewer, outsider, project):
    graph_publish(project=project, source=MARKET, actor="alice")
    assert b"market-institution v1" in login(viewer).get("/graphs/acme/").content
    assert login(outsider).get("/graphs/acme/").status_code == 404


def test_an_admin_makes_the_graphs_public_and_private_again_and_it_is_logged(login, admin, viewer, client, project):
    graph_publish(project=project, source=MARKET, actor="alice")
    assert login(viewer).post("/p/acme/governance/graphs/visibility/", {"public": "1"}).status_code == 403
    login(admin).post("/p/acme/governance/graphs/visibility/", {"public": "1"})
    assert client.get("/graphs/acme/").status_code == 200
    login(admin).post("/p/acme/governance/graphs/visibility/", {"public": "0"})
    assert client.get("/graphs/acme/").status_code == 404
    events = list(GovernanceLogEntry.objects.filter(project=project, event="project.graphs_visibility")
                  .order_by("seq").values_list("payload", flat=True))
    assert events == ['{"public":true}', '{"public":false}']


def test_project_overview_has_a_governance_card_with_sanctioned_agents(login, viewer, project):
    sanction_apply(project=project, agent="trader-9", kind="suspend", actor="rita", reason="x")
    response = login(viewer).get("/p/acme/")
    assert b'id="governance-card"' in response.content
    assert b"1 agent under sanction" in response.content and b"trader-9" in response.content
