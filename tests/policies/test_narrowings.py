"""Episode-scoped narrowing: it only takes permissions away, for one episode."""

import pytest

pytestmark = pytest.mark.django_db


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
