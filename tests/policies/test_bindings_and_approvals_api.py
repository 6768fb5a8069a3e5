"""Bindings and approvals through the API, with the scopes each operation needs."""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.policies import services
from apps.policies.models import PolicyBinding

pytestmark = pytest.mark.django_db

STRICT = "name: strict\ndefault: block\nrules: [{tool: read_balance, effect: deny}]\n"


@pytest.fixture
def client_with(api, make_key, project):
    return lambda *scopes: api(make_key(project, scopes=list(scopes)))


def _ask(decide):
    return decide("update_password", {"user": "bob"}).json()["decision_id"]


def test_an_admin_key_binds_a_policy_to_an_agent_and_decide_uses_it(bank_policy, project, admin, client_with, decide):
    services.policy_publish(project=project, source=STRICT, actor=admin)
    r = client_with("admin").post("/api/v1/policies/bindings",
                                  {"policy": "strict", "agent": "auditor-*", "priority": 5}, format="json")
    assert r.status_code == 201, r.content
    assert (r.json()["policy"], r.json()["agent"], r.json()["environment"]) == ("strict", "auditor-*", "*")
    assert decide("read_balance", agent="auditor-1").json()["verdict"] == "block"
    assert decide("read_balance", agent="banker").json()["verdict"] == "allow"
    assert "auditor-*" in [e.data["agent"] for e in GovernanceLogEntry.objects.filter(event="policy.bound")]


def test_bindings_are_listed_with_a_read_key(bank_policy, client_with):
    body = client_with("read").get("/api/v1/policies/bindings").json()
    assert [(b["policy"], b["agent"], b["environment"]) for b in body] == [("bank", "*", "*")]


def test_binding_needs_the_admin_scope(bank_policy, client_with):
    r = client_with("read", "decide", "review").post("/api/v1/policies/bindings", {"policy": "bank"}, format="json")
    assert r.status_code == 403


def test_binding_an_unknown_policy_names_the_field(bank_policy, client_with):
    r = client_with("admin").post("/api/v1/policies/bindings", {"policy": "nope"}, format="json")
    assert r.status_code == 400 and "policy" in r.json()["error"]["fields"]


def test_a_binding_is_removed_and_logged(bank_policy, project, client_with):
    binding = PolicyBinding.objects.get(project=project)
    assert client_with("admin").delete(f"/api/v1/policies/bindings/{binding.id}").status_code == 204
    assert not PolicyBinding.objects.filter(pk=binding.pk).exists()
    assert GovernanceLogEntry.objects.filter(event="policy.unbound").exists()


def test_another_projects_binding_cannot_be_removed(bank_policy, other_project, outsider, api, make_key, project):
    binding = PolicyBinding.objects.get(project=project)
    foreign = api(make_key(other_project, scopes=["admin"]))
    assert foreign.delete(f"/api/v1/policies/bindings/{binding.id}").status_code == 404
    assert PolicyBinding.objects.filter(pk=binding.pk).exists()


def test_a_review_key_lists_pending_asks_and_approves_one(bank_policy, decide, decider, client_with):
    decision_id = _ask(decide)
    reviewer_key = client_with("review")
    pending = reviewer_key.get("/api/v1/approvals").json()["results"]
    assert [a["decision"]["decision_id"] for a in pending] == [decision_id]
    r = reviewer_key.post(f"/api/v1/approvals/{decision_id}/answer", {"approve": True, "note": "ok by chat-ops"},
                          format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["decision"]["outcome"]) == ("approved", "allow")
    assert decider.get(f"/api/v1/decisions/{decision_id}").json()["outcome"] == "allow"


def test_an_api_answer_writes_the_same_log_entry_as_the_page(bank_policy, decide, client_with, login, reviewer,
                                                               project):
    by_api, by_page = _ask(decide), _ask(lambda *a, **k: decide(*a, episode="ep-2", **k))
    client_with("review").post(f"/api/v1/approvals/{by_api}/answer", {"approve": False}, format="json")
    page = login(reviewer).post(f"/p/{project.slug}/policies/approvals/{by_page}/answer/", {"answer": "deny"})
    assert page.status_code == 200
    entries = {e.data["decision_id"]: e for e in GovernanceLogEntry.objects.filter(event="approval.answered")}
    api_entry, page_entry = entries[by_api], entries[by_page]
    assert api_entry.data.keys() == page_entry.data.keys()
    assert (api_entry.data["status"], page_entry.data["status"]) == ("denied", "denied")
    assert (api_entry.actor, page_entry.actor) == ("key:test", "rita")


def test_answering_needs_the_review_scope(bank_policy, decide, client_with):
    decision_id = _ask(decide)
    r = client_with("read", "decide").post(f"/api/v1/approvals/{decision_id}/answer", {"approve": True}, format="json")
    assert r.status_code == 403


def test_an_answered_ask_cannot_be_answered_again(bank_policy, decide, client_with):
    decision_id = _ask(decide)
    key = client_with("review")
    key.post(f"/api/v1/approvals/{decision_id}/answer", {"approve": True}, format="json")
    r = key.post(f"/api/v1/approvals/{decision_id}/answer", {"approve": False}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "approval_closed")


def test_an_answer_must_say_approve_or_deny(bank_policy, decide, client_with):
    decision_id = _ask(decide)
    r = client_with("review").post(f"/api/v1/approvals/{decision_id}/answer", {"approve": "maybe"}, format="json")
    assert r.status_code == 400 and "approve" in r.json()["error"]["fields"]


def test_another_projects_ask_is_not_found(bank_policy, decide, other_project, api, make_key):
    decision_id = _ask(decide)
    foreign = api(make_key(other_project, scopes=["admin"]))
    r = foreign.post(f"/api/v1/approvals/{decision_id}/answer", {"approve": True}, format="json")
    assert r.status_code == 404
    assert foreign.get("/api/v1/approvals").json()["results"] == []
