"""Which policy governs a call: bindings by agent and environment, and the agent's governance state."""

import pytest

from apps.policies import services
from apps.policies.models import PolicyBinding

pytestmark = pytest.mark.django_db


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


def test_a_suspended_agent_is_blocked_through_the_api(bank_policy, decide, project):
    from apps.governance.models import AgentState

    AgentState.objects.create(project=project, agent="banker", suspended=True)
    body = decide("read_balance").json()
    assert (body["verdict"], body["rule"]) == ("block", "governance:suspended")
