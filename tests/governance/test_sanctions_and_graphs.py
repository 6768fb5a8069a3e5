"""Sanctions by hand, graph publishing, and a sanction changing the very next /decide."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import GovernanceLogEntry
from apps.audit.verification import governance_verify
from apps.governance.controller import sanction_apply, sanction_lift
from apps.governance.graphs import graph_publish
from apps.governance.models import GraphVersion
from apps.governance.selectors import agent_governance_state
from apps.policies import services as policy_services
from tests.governance.graphs import MARKET

pytestmark = pytest.mark.django_db

POLICY = """
name: market
default: block
rules:
  - id: reads
    tool: "read_*"
    effect: allow
  - id: produce
    tool: produce
    effect: allow
"""


def _last(project, event):
    return GovernanceLogEntry.objects.filter(project=project, event=event).order_by("-seq").first()


def test_manual_revocation_is_enforced_and_logged_with_its_reason(project):
    sanction = sanction_apply(project=project, agent="trader", kind="revoke", tool="send_*", actor="rita",
                              reason="spamming rivals")
    assert agent_governance_state(project=project, agent="trader")["revoked_tools"] == ["send_*"]
    entry = _last(project, "sanction.applied")
    assert (entry.actor, entry.data["reason"], entry.data["sanction_id"]) == ("rita", "spamming rivals", sanction.id)


def test_lifting_a_sanction_restores_the_agent_and_is_logged(project):
    sanction = sanction_apply(project=project, agent="trader", kind="suspend", actor="rita", reason="incident")
    sanction_lift(sanction=sanction, actor="rita", reason="resolved")
    assert agent_governance_state(project=project, agent="trader")["suspended"] is False
    assert _last(project, "sanction.lifted").data["reason"] == "resolved"


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


def test_publishing_a_graph_logs_its_digest(project):
    version = graph_publish(project=project, source=MARKET, actor="alice")
    entry = _last(project, "graph.published")
    assert entry.data == {"graph": "market-institution", "number": 1, "digest": version.digest}
    assert version.is_active


def test_publishing_the_same_content_again_returns_the_same_version(project):
    first = graph_publish(project=project, source=MARKET, actor="alice")
    again = graph_publish(project=project, source="# comment\n" + MARKET, actor="alice")
    assert again.pk == first.pk
    assert GovernanceLogEntry.objects.filter(project=project, event="graph.published").count() == 1


def test_an_invalid_graph_is_refused_with_its_lines_and_nothing_is_stored(project):
    with pytest.raises(ValidationError) as info:
        graph_publish(project=project, source=MARKET.replace("to: restricted\n", "to: jail\n"), actor="alice")
    assert any("unknown state 'jail'" in m for m in info.value.message_dict["source"])
    assert not GraphVersion.objects.exists()


def test_a_second_version_takes_over_and_keeps_the_first_immutable(project):
    first = graph_publish(project=project, source=MARKET, actor="alice")
    second = graph_publish(project=project, source=MARKET.replace("minimum: 10", "minimum: 12"), actor="alice")
    first.refresh_from_db()
    assert (first.is_active, second.is_active, second.number) == (False, True, 2)
    assert "minimum: 10" in first.source


@pytest.fixture
def decide(api, make_key, project, admin):
    policy_services.policy_publish(project=project, source=POLICY, actor=admin)
    client = api(make_key(project, scopes=["decide"]))

    def call(tool, agent="trader", arguments=None):
        body = {"episode": "ep-1", "agent": agent, "tool": tool, "arguments": arguments or {}}
        return client.post("/api/v1/decide", body, format="json").json()

    return call


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


def test_graph_quantity_floor_rewrites_or_blocks_a_low_quantity(decide, project):
    from tests.governance.rounds import colluding

    graph_publish(project=project, source=MARKET, actor="alice")
    colluding(project)
    colluding(project)
    assert decide("produce", arguments={"quantity": 50})["verdict"] == "allow"
    assert decide("produce", arguments={"quantity": 2})["verdict"] != "allow"


def test_database_refuses_editing_a_published_graph_version(project):
    from django.db import DatabaseError, transaction

    version = graph_publish(project=project, source=MARKET, actor="alice")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        GraphVersion.objects.filter(pk=version.pk).update(source="name: forged")
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        GraphVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.source == MARKET
