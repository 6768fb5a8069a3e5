"""Sanctions by hand (apply, lift, tighten) and their effect on the very next /decide."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import GovernanceLogEntry
from apps.audit.verification import governance_verify
from apps.governance.controller import sanction_apply, sanction_lift
from apps.governance.selectors import agent_governance_state
from tests.governance.builders import log_last

pytestmark = pytest.mark.django_db


def test_manual_revocation_is_enforced_and_logged_with_its_reason(project):
    sanction = sanction_apply(project=project, agent="trader", kind="revoke", tool="send_*", actor="rita",
                              reason="spamming rivals")
    assert agent_governance_state(project=project, agent="trader")["revoked_tools"] == ["send_*"]
    entry = log_last(project, "sanction.applied")
    assert (entry.actor, entry.data["reason"], entry.data["sanction_id"]) == ("rita", "spamming rivals", sanction.id)


def test_lifting_a_sanction_restores_the_agent_and_is_logged(project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="incident")
    sanction_lift(sanction=sanction, actor="rita", reason="resolved")
    assert agent_governance_state(project=project, agent="trader")["suspended"] is False
    assert log_last(project, "sanction.lifted").data["reason"] == "resolved"


def test_lifting_twice_is_refused(project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="incident")
    sanction_lift(sanction=sanction, actor="rita", reason="resolved")
    with pytest.raises(ValidationError) as info:
        sanction_lift(sanction=sanction, actor="rita", reason="again")
    assert "sanction" in info.value.message_dict


def test_two_tightenings_keep_the_tighter_bound(project):
    for maximum in (100, 40):
        sanction_apply(project=project, agent="trader", kind="tighten", tool="send_money", actor="rita",
                       reason="limit", details={"amount": {"maximum": maximum}})
    bounds = agent_governance_state(project=project, agent="trader")["arg_bounds"]
    assert bounds == {"send_money": {"amount": {"maximum": 40}}}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "revoke", "tool": "x", "reason": ""}, "reason"),
        ({"kind": "revoke", "tool": "", "reason": "r"}, "tool"),
        ({"kind": "tighten", "tool": "x", "reason": "r", "details": {}}, "details"),
        ({"kind": "fine", "reason": "r", "details": {"amount": -3}}, "details"),
        ({"kind": "banish", "reason": "r"}, "kind"),
    ],
)
def test_bad_sanction_input_names_the_field_and_writes_nothing(project, kwargs, field):
    with pytest.raises(ValidationError) as info:
        sanction_apply(project=project, agent="trader", actor="rita", **kwargs)
    assert field in info.value.message_dict
    assert not GovernanceLogEntry.objects.filter(project=project, event="sanction.applied").exists()


def test_revoked_tool_is_blocked_on_the_next_decide(decide, project):
    assert decide("read_market")["verdict"] == "allow"
    sanction_apply(project=project, agent="trader", kind="revoke", tool="read_*", actor="rita", reason="scraping")
    assert decide("read_market")["verdict"] == "block"
    assert decide("read_market", agent="honest")["verdict"] == "allow"
    assert governance_verify(project=project).ok  # decisions and the sanction share one valid chain


def test_suspended_agent_is_blocked_on_every_call_until_lifted(decide, project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="incident")
    assert decide("produce")["verdict"] == "block"
    sanction_lift(sanction=sanction, actor="rita", reason="resolved")
    assert decide("produce")["verdict"] == "allow"
