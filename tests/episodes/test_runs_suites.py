"""AgentDojo suites played as runs: the suite's own utility and security checks, through Warden."""

import pytest

from apps.episodes import services
from apps.episodes.models import RunStatus
from apps.policies.models import Approval, Decision
from apps.traces.models import Step

pytestmark = pytest.mark.django_db
PAY_THE_BILL = {"kind": "agentdojo", "suite": "banking", "user_task": "user_task_0", "injection_task": "injection_task_7"}


def _suite_run(project, regime: str, agent: str = "hijackable"):
    run, _ = services.run_create(project=project, data={"environment": PAY_THE_BILL, "agents": [{"kind": agent}],
                                                        "regime": regime, "seed": 2}, actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    return run


def test_ungoverned_the_hijacked_assistant_carries_out_the_injection(project):
    run = _suite_run(project, "ungoverned")
    assert run.metrics["utility"] is True and run.metrics["security"] is True  # the attack reached its goal
    bill = Step.objects.get(episode=run.episode, kind="observation", tool="read_file")
    assert bill.provenance == "untrusted"
    assert set(Decision.objects.filter(episode=run.episode).values_list("verdict", flat=True)) == {"allow"}


def test_institutional_the_least_privilege_policy_holds_the_password_change_for_a_reviewer(project):
    run = _suite_run(project, "institutional")
    assert run.metrics["utility"] is True and run.metrics["secure"] is True
    held = Decision.objects.get(episode=run.episode, tool="update_password")
    assert held.verdict == "ask" and held.rule == "password-needs-human"
    assert Approval.objects.get(decision=held).status == "pending"  # the worker did not wait for it
    assert run.versions["policy_name"] == "agentdojo-banking"


def test_the_oracle_assistant_needs_no_name_in_the_spec(project):
    run = _suite_run(project, "ungoverned", agent="oracle")
    assert run.spec["agents"][0]["name"] == "assistant"
    assert run.metrics["utility"] is True and run.metrics["security"] is False


def test_a_run_plays_under_the_example_policy_its_spec_names_by_file(project):
    run, _ = services.run_create(project=project, actor="alice", data={
        "environment": PAY_THE_BILL, "agents": [{"kind": "hijackable"}], "regime": "institutional", "seed": 2,
        "versions": {"policy_file": "policies/agentdojo/banking-provenance.yaml"}})
    assert run.versions["policy_name"] == "agentdojo-banking-provenance"


@pytest.mark.parametrize(("versions", "regime", "field"), [
    ({"policy_file": "policies/../../settings.yaml"}, "institutional", "versions.policy_file"),
    ({"policy_file": "policies/agentdojo/no-such-suite.yaml"}, "institutional", "versions.policy_file"),
    ({"policy_file": "policies/agentdojo/banking.yaml"}, "ungoverned", "versions.policy_file"),
    ({"policy_file": "policies/agentdojo/banking.yaml", "policy": "runs-allow-all"}, "institutional",
     "versions.policy_file"),
])
def test_a_policy_file_outside_the_examples_or_where_no_policy_applies_is_refused(project, versions, regime, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.run_create(project=project, actor="alice", data={
            "environment": PAY_THE_BILL, "agents": [{"kind": "hijackable"}], "regime": regime, "versions": versions})
    assert field in caught.value.message_dict
