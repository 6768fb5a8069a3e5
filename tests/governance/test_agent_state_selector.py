"""agent_governance_state: what /decide enforces for an agent, one query, scoped to the project."""

import pytest

from apps.governance.models import AgentState
from apps.governance.selectors import agent_governance_state

pytestmark = pytest.mark.django_db


def test_agent_never_sanctioned_gets_the_default_state(project):
    assert agent_governance_state(project=project, agent="trader") == {
        "state": None, "suspended": False, "revoked_tools": [], "arg_bounds": {},
    }


def test_agent_state_row_is_returned_as_the_interface_dict(project):
    AgentState.objects.create(
        project=project, agent="trader", state="warned", revoked_tools=["send_*"],
        arg_bounds={"produce": {"quantity": {"minimum": 10}}},
    )
    assert agent_governance_state(project=project, agent="trader") == {
        "state": "warned", "suspended": False, "revoked_tools": ["send_*"],
        "arg_bounds": {"produce": {"quantity": {"minimum": 10}}},
    }


def test_agent_state_of_another_project_does_not_leak(project, other_project):
    AgentState.objects.create(project=other_project, agent="trader", state="suspended", suspended=True)
    assert agent_governance_state(project=project, agent="trader")["suspended"] is False


def test_agent_governance_state_costs_one_query(project, django_assert_num_queries):
    AgentState.objects.create(project=project, agent="trader", suspended=True)
    with django_assert_num_queries(1):
        agent_governance_state(project=project, agent="trader")
