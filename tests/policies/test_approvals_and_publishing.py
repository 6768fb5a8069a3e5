"""Ask -> approve / deny / timeout; publishing gated by tests; versions, diff, re-activation; narrowing."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import GovernanceLogEntry
from apps.policies import approvals, selectors, services
from apps.policies.models import Approval, Decision, Policy, PolicyBinding, PolicyVersion
from tests.policies.conftest import BANK

pytestmark = pytest.mark.django_db


def _ask(decide):
    return decide("update_password", {"user": "bob"}).json()["decision_id"]


def test_an_approved_ask_tells_the_runtime_to_go_ahead(bank_policy, decide, decider, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer)
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("approved", "allow")


def test_a_denied_ask_blocks(bank_policy, decide, decider, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=False, actor=reviewer)
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("denied", "block")


def test_an_unanswered_ask_applies_the_policy_default_at_its_deadline(bank_policy, decide, decider):
    decision_id = _ask(decide)
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("timed_out", "block")


def test_long_poll_returns_pending_when_the_wait_runs_out(bank_policy, decide, decider):
    decision_id = _ask(decide)
    body = decider.get(f"/api/v1/decisions/{decision_id}?wait=0.3").json()
    assert body["status"] == "pending"


def test_long_poll_wait_is_bounded(bank_policy, decide, decider):
    decision_id = _ask(decide)
    response = decider.get(f"/api/v1/decisions/{decision_id}?wait=600")
    assert response.status_code == 400 and "wait" in response.json()["error"]["message"]


def test_an_ask_cannot_be_answered_twice(bank_policy, decide, reviewer):
    approval = Approval.objects.get(pk=_ask(decide))
    approvals.approval_answer(approval=approval, approve=True, actor=reviewer)
    with pytest.raises(ValidationError):
        approvals.approval_answer(approval=approval, approve=False, actor=reviewer)


def test_answering_is_recorded_in_the_governance_log(bank_policy, decide, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer)
    entry = GovernanceLogEntry.objects.get(event="approval.answered")
    assert (entry.actor, entry.data["decision_id"], entry.data["outcome"]) == ("rita", decision_id, "allow")


def test_publishing_logs_the_version_and_activates_it(bank_policy):
    policy = Policy.objects.get(name="bank")
    assert policy.active_version == bank_policy
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


def test_agents_can_be_bound_to_different_policies(bank_policy, project, admin, decide):
    lax = services.policy_publish(project=project, actor=admin,
                                  source="name: lax\ndefault: allow\nrules: [{tool: nothing, effect: deny}]")
    services.binding_set(project=project, policy=lax.policy, agent="intern-*", priority=5, actor=admin)
    assert decide("anything", agent="banker").json()["verdict"] == "block"
    assert decide("anything", agent="intern-7").json()["verdict"] == "allow"


def test_a_binding_can_target_an_environment(bank_policy, project, admin, decide):
    lax = services.policy_publish(project=project, actor=admin,
                                  source="name: lax\ndefault: allow\nrules: [{tool: nothing, effect: deny}]")
    services.binding_set(project=project, policy=lax.policy, environment="sandbox", actor=admin)
    assert decide("anything", context={"environment": "sandbox"}, episode="s").json()["verdict"] == "allow"
    assert decide("anything", context={"environment": "prod"}, episode="p").json()["verdict"] == "block"
    assert PolicyBinding.objects.count() == 2


def test_a_narrowing_blocks_a_tool_for_one_episode_only(bank_policy, decider, decide):
    overlay = "default: allow\nrules: [{tool: 'read_*', effect: deny}]"
    assert decider.post("/api/v1/narrow", {"episode": "ep-1", "policy": overlay}, format="json").status_code == 200
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"]) == ("block", "narrowing:read_*#1")
    assert decide("read_balance", episode="ep-2").json()["verdict"] == "allow"


def test_a_narrowing_cannot_widen_the_project_policy(bank_policy, decider, decide):
    overlay = "default: allow\nrules: [{tool: 'delete_account', effect: allow, priority: 99}]"
    decider.post("/api/v1/narrow", {"episode": "ep-1", "policy": overlay}, format="json")
    assert decide("send_money", {"recipient": "FR9", "amount": 1}).json()["verdict"] == "block"
    assert decide("delete_account").json()["verdict"] == "terminate"


def test_an_invalid_narrowing_is_a_400_with_its_line(decider):
    response = decider.post("/api/v1/narrow", {"episode": "e", "policy": "rules:\n  - {tool: t, effect: nah}"},
                            format="json")
    assert response.status_code == 400 and "line 2" in response.json()["error"]["message"]


def test_a_suspended_agent_is_blocked_through_the_api(bank_policy, decide, project):
    from apps.governance.models import AgentState

    AgentState.objects.create(project=project, agent="banker", suspended=True)
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"]) == ("block", "governance:suspended")


def test_decisions_are_listed_newest_first(bank_policy, decide, project):
    decide("read_balance")
    decide("read_mail")
    assert [d.tool for d in selectors.decision_list(project=project)] == ["read_mail", "read_balance"]
    assert Decision.objects.count() == 2


def test_the_expiry_task_applies_defaults_to_overdue_asks_only(bank_policy, decide):
    from apps.policies.tasks import approvals_expire_task

    overdue, fresh = _ask(decide), _ask(decide)
    Approval.objects.filter(pk=overdue).update(deadline=timezone.now() - timedelta(seconds=1))
    assert approvals_expire_task.delay().get() == 1
    assert Approval.objects.get(pk=overdue).status == "timed_out"
    assert Approval.objects.get(pk=fresh).status == "pending"


def test_an_ask_whose_default_is_terminate_ends_the_episode_at_its_deadline(project, admin, decide, decider):
    from apps.traces.models import Episode

    services.policy_publish(project=project, actor=admin, source=(
        "name: strict\nrules:\n  - {tool: wire, effect: deny, fallback: {action: ask, timeout: 5, default: terminate}}\n"))
    decision_id = decide("wire").json()["decision_id"]
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    assert decider.get(f"/api/v1/decisions/{decision_id}").json()["outcome"] == "terminate"
    assert Episode.objects.get(external_id="ep-1").status == "terminated"
