"""The shared web plumbing: one API scope permission, role checks by decorator, the actor of a
request, validation errors as lines, the shared pager."""

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from apps.core.errors import error_body
from apps.core.forms import validation_messages, validation_text
from apps.tenancy.actors import actor_name, actor_of, actor_user

pytestmark = pytest.mark.django_db


def test_a_read_key_cannot_publish_a_contract_and_is_told_which_scope_it_lacks(project, api, make_key):
    response = api(make_key(project, scopes=["read"])).post("/api/v1/contracts", {"source": "x"}, format="json")
    assert response.status_code == 403
    assert response.json() == error_body("permission_denied", "This API key lacks the 'admin' scope.")


def test_an_either_scope_view_names_both_scopes(project, api, make_key):
    response = api(make_key(project, scopes=["ingest"])).get("/api/v1/decisions")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key lacks the 'decide' or 'read' scope."


def test_a_run_needs_ingest_and_decide_together(project, api, make_key):
    response = api(make_key(project, scopes=["ingest", "read"])).post("/api/v1/runs", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API key lacks the 'ingest' and 'decide' scope."


def test_an_admin_key_passes_every_scope(project, api, make_key):
    assert api(make_key(project, scopes=["admin"])).get("/api/v1/decisions").status_code == 200


def test_no_key_is_401_not_403(api):
    assert api().get("/api/v1/decisions").status_code == 401


def test_a_viewer_may_read_the_contracts_page_but_not_publish(login, viewer):
    client = login(viewer)
    assert client.get("/p/acme/contracts/").status_code == 200
    assert client.post("/p/acme/contracts/", {"source": "name: x"}).status_code == 403


def test_a_reviewer_may_validate_a_graph_but_not_publish_it(login, reviewer):
    client = login(reviewer)
    assert client.post("/p/acme/governance/graphs/", {"source": "name: g", "action": "check"}).status_code == 200
    assert client.post("/p/acme/governance/graphs/", {"source": "name: g", "action": "publish"}).status_code == 403


def test_the_actor_of_a_page_request_is_the_signed_in_user(admin):
    request = RequestFactory().get("/")
    request.user = admin
    assert actor_user(actor_of(request)) == admin
    assert actor_name(actor_of(request)) == "alice"


def test_an_actor_given_by_name_is_recorded_by_name_and_points_at_no_user():
    assert (actor_name("controller"), actor_user("controller")) == ("controller", None)
    assert actor_name(None) == "system"


def test_validation_errors_become_lines_naming_the_field_except_a_documents_own():
    exc = ValidationError({"reason": ["Say why."], "source": ["line 3: unknown key"]})
    assert validation_messages(exc) == ["reason: Say why.", "line 3: unknown key"]
    assert validation_text(ValidationError("Already lifted.")) == "Already lifted."


def test_lists_page_with_the_shared_pager_keeping_the_filter(login, viewer, project):
    from apps.audit.services import governance_log_append

    for _ in range(51):
        governance_log_append(project=project, event="test.event", actor="t", data={})
    body = login(viewer).get("/p/acme/governance/log/?event=test.event").content.decode()
    assert "Page 1 of 2 · 51 entries" in body
    assert 'href="?event=test.event&amp;page=2"' in body or 'href="?event=test.event&page=2"' in body
