"""Publishing policies: gated by their tests, logged, content-hashed immutable versions, diffs and re-activation."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import GovernanceLogEntry
from apps.policies import selectors, services
from apps.policies.models import Policy, PolicyVersion
from tests.policies.conftest import BANK

pytestmark = pytest.mark.django_db


def test_publishing_logs_the_version_and_activates_it(bank_policy):
    policy = Policy.objects.get(name="bank")
    assert policy.in_force == bank_policy
    assert GovernanceLogEntry.objects.filter(event="policy.published").get().data["digest"] == bank_policy.digest


def test_publishing_the_same_content_returns_the_same_version(bank_policy, project, admin):
    again = services.policy_publish(project=project, source="# same rules\n" + BANK, actor=admin)
    assert again.pk == bank_policy.pk and PolicyVersion.objects.count() == 1


def test_publishing_refuses_a_version_whose_tests_fail_and_names_the_case(bank_policy, project, admin):
    broken = BANK.replace("expect: allow", "expect: block")
    with pytest.raises(ValidationError) as exc:
        services.policy_publish(project=project, source=broken, actor=admin)
    assert "reading is fine" in str(exc.value) and "line" in str(exc.value)
    assert PolicyVersion.objects.count() == 1


def test_publishing_over_the_api_refuses_failing_tests_with_a_400(bank_policy, api, make_key, project):
    client = api(make_key(project, scopes=["admin"]))
    response = client.post("/api/v1/policies/publish", {"source": BANK.replace("expect: allow", "expect: ask")},
                           format="json")
    assert response.status_code == 400
    assert "reading is fine" in response.json()["error"]["message"]


def test_publishing_over_the_api_reports_the_line_of_an_invalid_rule(api, make_key, project):
    client = api(make_key(project, scopes=["admin"]))
    response = client.post("/api/v1/policies/publish", {"source": "name: x\nrules:\n  - {tool: t, effect: maybe}\n"},
                           format="json")
    assert response.status_code == 400
    assert "line 3" in response.json()["error"]["message"] and "rules[0].effect" in response.json()["error"]["message"]


def test_publishing_needs_the_admin_scope(api, make_key, project):
    client = api(make_key(project, scopes=["decide", "read"]))
    response = client.post("/api/v1/policies/publish", {"source": BANK}, format="json")
    assert response.status_code == 403


def test_a_new_version_gets_the_next_number_and_a_diff(bank_policy, project, admin):
    v2 = services.policy_publish(project=project, source=BANK.replace("maximum: 1000", "maximum: 500"), actor=admin)
    assert v2.number == 2
    diff = selectors.version_diff(old=bank_policy, new=v2)
    assert "-      amount: {type: number, maximum: 1000}" in diff
    assert "+      amount: {type: number, maximum: 500}" in diff


def test_re_activating_an_older_version_changes_what_decide_uses(bank_policy, project, admin, decide):
    services.policy_publish(project=project, source=BANK.replace("tool: \"read_*\"", "tool: \"fetch_*\"")
                            .replace("read_balance", "fetch_balance"), actor=admin)
    assert decide("read_balance").json()["verdict"] == "block"
    services.policy_activate(policy=Policy.objects.get(name="bank"), version=bank_policy, actor=admin)
    assert decide("read_balance").json()["verdict"] == "allow"
    assert GovernanceLogEntry.objects.filter(event="policy.activated").count() == 3


def test_versions_are_immutable(bank_policy):
    bank_policy.source = "tampered"
    with pytest.raises(ValueError):
        bank_policy.save()
