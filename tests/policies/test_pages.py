"""Policy pages: roles, htmx fragments, validation with line numbers, publish, diff, approvals, isolation."""

import pytest

from apps.policies import services
from apps.policies.models import Approval, Policy, PolicyVersion
from tests.policies.conftest import BANK

pytestmark = pytest.mark.django_db

BASE = "/p/acme/policies/"


def test_the_policy_list_shows_an_empty_state(login, viewer):
    body = login(viewer).get(BASE).content.decode()
    assert "No policies yet" in body


def test_the_policy_list_shows_published_policies(login, viewer, bank_policy):
    body = login(viewer).get(BASE).content.decode()
    assert "bank" in body and bank_policy.short in body


def test_validating_in_the_editor_returns_a_fragment_with_the_line_of_each_problem(login, viewer):
    response = login(viewer).post(f"{BASE}new/", {"source": "name: x\nrules:\n  - {tool: t, effect: perhaps}\n"},
                                  headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body
    assert "line 3" in body and "rules[0].effect" in body


def test_validating_a_good_policy_shows_its_test_results(login, viewer):
    body = login(viewer).post(f"{BASE}new/", {"source": BANK}, headers={"HX-Request": "true"}).content.decode()
    assert "PASS reading is fine" in body


def test_an_admin_publishes_from_the_editor(login, admin):
    response = login(admin).post(f"{BASE}publish/", {"source": BANK}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{BASE}bank/"
    assert PolicyVersion.objects.filter(policy__name="bank").count() == 1


def test_publishing_with_a_failing_test_shows_the_case_and_publishes_nothing(login, admin):
    source = BANK.replace("expect: allow", "expect: terminate")
    body = login(admin).post(f"{BASE}publish/", {"source": source}, headers={"HX-Request": "true"}).content.decode()
    assert "reading is fine" in body and "expected verdict" in body
    assert PolicyVersion.objects.count() == 0


def test_a_reviewer_cannot_publish(login, reviewer):
    assert login(reviewer).post(f"{BASE}publish/", {"source": BANK}).status_code == 403


def test_the_diff_between_versions_is_shown_as_a_fragment(login, viewer, bank_policy, project, admin):
    services.policy_publish(project=project, source=BANK.replace("maximum: 1000", "maximum: 10"), actor=admin)
    body = login(viewer).get(f"{BASE}bank/diff/?old=1&new=2", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in body and "maximum: 10}" in body and "-      amount" in body


def test_an_admin_re_activates_an_older_version(login, admin, bank_policy, project):
    services.policy_publish(project=project, source=BANK.replace("maximum: 1000", "maximum: 10"), actor=admin)
    login(admin).post(f"{BASE}bank/versions/1/activate/", headers={"HX-Request": "true"})
    assert Policy.objects.get(name="bank").in_force == bank_policy


def test_a_viewer_cannot_re_activate(login, viewer, bank_policy):
    assert login(viewer).post(f"{BASE}bank/versions/1/activate/").status_code == 403


def test_an_admin_binds_a_policy_to_agents(login, admin, bank_policy):
    body = login(admin).post(f"{BASE}bank/bindings/", {"agent": "bank-*", "environment": "*", "priority": "3"},
                             headers={"HX-Request": "true"}).content.decode()
    assert "bank-*" in body


def test_the_decisions_page_lists_and_filters_decisions(login, viewer, bank_policy, decide):
    decide("read_balance")
    decide("send_money", {"recipient": "FR9", "amount": 3})
    client = login(viewer)
    assert "send_money" in client.get(f"{BASE}decisions/").content.decode()
    body = client.get(f"{BASE}decisions/?verdict=allow", headers={"HX-Request": "true"}).content.decode()
    assert "read_balance" in body and "send_money" not in body


def test_the_decisions_page_has_an_empty_state(login, viewer):
    assert "No decisions" in login(viewer).get(f"{BASE}decisions/").content.decode()


def test_a_reviewer_approves_from_the_queue(login, reviewer, bank_policy, decide):
    decision_id = decide("update_password", {"user": "bob"}).json()["decision_id"]
    client = login(reviewer)
    assert "update_password" in client.get(f"{BASE}approvals/").content.decode()
    client.post(f"{BASE}approvals/{decision_id}/answer/", {"answer": "approve"}, headers={"HX-Request": "true"})
    assert Approval.objects.get(pk=decision_id).status == "approved"


def test_a_viewer_cannot_answer_an_approval(login, viewer, bank_policy, decide):
    decision_id = decide("update_password", {"user": "bob"}).json()["decision_id"]
    assert login(viewer).post(f"{BASE}approvals/{decision_id}/answer/", {"answer": "approve"}).status_code == 403
    assert Approval.objects.get(pk=decision_id).status == "pending"


def test_an_outsider_sees_none_of_the_projects_policy_pages(login, outsider, bank_policy):
    client = login(outsider)
    assert client.get(BASE).status_code == 404
    assert client.get(f"{BASE}bank/").status_code == 404
    assert client.get(f"{BASE}decisions/").status_code == 404


def test_an_outsider_cannot_answer_another_projects_approval(login, outsider, other_project, bank_policy, decide):
    decision_id = decide("update_password", {"user": "bob"}).json()["decision_id"]
    response = login(outsider).post(f"/p/globex/policies/approvals/{decision_id}/answer/", {"answer": "approve"})
    assert response.status_code == 404
    assert Approval.objects.get(pk=decision_id).status == "pending"


def test_a_policys_description_is_kept_from_its_document_and_shown(project, admin, login):
    source = "name: described\ndescription: Least privilege for the bank assistant.\nrules: [{tool: t, effect: allow}]\n"
    services.policy_publish(project=project, source=source, actor=admin)
    client = login(admin)
    assert "Least privilege for the bank assistant." in client.get(f"/p/{project.slug}/policies/").content.decode()
    assert "Least privilege for the bank assistant." in client.get(
        f"/p/{project.slug}/policies/described/").content.decode()
