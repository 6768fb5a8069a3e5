"""The Oracle turns rounds into evidence; the Controller moves agents and applies sanctions."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import GovernanceLogEntry
from apps.governance import controller
from apps.governance.graphs import graph_publish
from apps.governance.models import AgentState, Evidence, Sanction
from apps.governance.oracle import episode_evidence, oracle_episode
from apps.governance.selectors import agent_governance_state
from tests.governance.builders import MARKET, clean, colluding, play_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(project):
    return graph_publish(project=project, source=MARKET, actor="alice")


def _state(project, agent="trader"):
    return agent_governance_state(project=project, agent=agent)


def test_agent_joins_the_graph_in_its_initial_state(market, project):
    clean(project)
    assert _state(project)["state"] == "compliant"


def test_one_colluding_round_is_not_enough_for_a_two_round_trigger(market, project):
    colluding(project)
    assert _state(project)["state"] == "compliant"


def test_two_colluding_rounds_move_the_agent_to_warned_with_a_quantity_floor(market, project):
    colluding(project)
    colluding(project, tier=4)
    state = _state(project)
    assert state["state"] == "warned"
    assert state["arg_bounds"] == {"produce": {"quantity": {"minimum": 10}}}


def test_transition_is_logged_with_its_condition_and_episode(market, project):
    colluding(project)
    episode = colluding(project)
    entry = GovernanceLogEntry.objects.filter(project=project, event="governance.transition").order_by("-seq").first()
    assert entry.data["from"] == "compliant" and entry.data["to"] == "warned"
    assert entry.data["episode"] == episode.external_id
    assert entry.data["condition"].startswith("metric.collusion_tier >= 3 for 2 rounds")


def test_severe_violation_within_ten_steps_suspends_the_agent(market, project):
    play_round(project, violations=[("critical", 4)])
    state = _state(project)
    assert (state["state"], state["suspended"]) == ("suspended", True)


def test_medium_violation_does_not_suspend(market, project):
    play_round(project, violations=[("medium", 4)])
    assert _state(project)["state"] == "compliant"


def test_blocking_most_calls_while_warned_restricts_and_fines(market, project):
    colluding(project)
    colluding(project)
    play_round(project, verdicts=[("produce", "block"), ("send_message", "block"), ("produce", "allow")])
    state = _state(project)
    assert (state["state"], state["revoked_tools"]) == ("restricted", ["send_message"])
    fine = Sanction.objects.get(project=project, kind="fine", lifted_at__isnull=True)
    assert fine.details == {"amount": 50, "unit": "credits"}


def test_three_clean_rounds_restore_a_warned_agent_and_lift_its_sanction(market, project):
    colluding(project)
    colluding(project)
    clean(project)
    clean(project)
    assert _state(project)["state"] == "warned"
    clean(project)
    state = _state(project)
    assert (state["state"], state["arg_bounds"]) == ("compliant", {})
    assert Sanction.objects.filter(project=project, source="graph", lifted_at__isnull=True).count() == 0


def test_a_blocked_call_breaks_the_clean_streak(market, project):
    colluding(project)
    colluding(project)
    clean(project)
    clean(project)
    play_round(project, verdicts=[("produce", "block"), ("produce", "allow"), ("read_market", "allow")])
    clean(project)
    assert _state(project)["state"] == "warned"


def test_running_the_oracle_twice_on_an_episode_changes_nothing(market, project):
    colluding(project)
    episode = colluding(project)
    entries = GovernanceLogEntry.objects.filter(project=project).count()
    oracle_episode(episode=episode)
    assert GovernanceLogEntry.objects.filter(project=project).count() == entries
    assert Evidence.objects.filter(project=project, episode=episode).count() == 1
    assert _state(project)["state"] == "warned"


def test_evidence_counts_blocks_repeats_and_violations_by_severity(project):
    episode = play_round(
        project,
        verdicts=[("send_money", "block"), ("send_money", "block"), ("read", "allow"), ("wipe", "terminate")],
        violations=[("high", 1), ("low", 2)], metrics={"collusion_tier": {"trader": 2, "other": 5}},
        run_oracle=False,
    )
    values = episode_evidence(episode=episode)["trader"]["values"]
    assert values["decisions.total"] == 4
    assert values["decisions.blocked"] == 3
    assert values["block_rate"] == 0.75
    assert values["forbidden.repeats"] == 1
    assert (values["violations.severe"], values["violations.low"], values["violations.total"]) == (1, 1, 2)
    assert values["metric.collusion_tier"] == 2


def test_dismissed_violations_are_not_evidence(project):
    episode = play_round(project, violations=[("critical", 1)], run_oracle=False)
    episode.violations.update(status="dismissed")
    assert episode_evidence(episode=episode)["trader"]["values"].get("violations.total", 0) == 0


def test_agents_are_governed_per_project(market, project, other_project):
    graph_publish(project=other_project, source=MARKET, actor="oscar")
    play_round(other_project, violations=[("critical", 1)])
    assert _state(other_project)["suspended"] is True
    assert _state(project)["suspended"] is False


def test_reviewer_moves_a_suspended_agent_along_the_restorative_path(market, project):
    play_round(project, violations=[("critical", 1)])
    controller.agent_move(project=project, agent="trader", to="restricted", actor="rita", reason="appeal granted")
    state = _state(project)
    assert (state["state"], state["suspended"], state["revoked_tools"]) == ("restricted", False, ["send_message"])


def test_reviewer_cannot_move_an_agent_where_the_graph_has_no_reviewer_path(market, project):
    play_round(project, violations=[("critical", 1)])
    with pytest.raises(ValidationError) as info:
        controller.agent_move(project=project, agent="trader", to="compliant", actor="rita", reason="why not")
    assert "to" in info.value.message_dict


def test_trusted_tier_decays_after_its_time_without_renewal(market, project):
    clean(project)
    controller.agent_move(project=project, agent="trader", to="trusted", actor="rita", reason="audited")
    assert controller.agents_decay(project=project, now=timezone.now() + timedelta(days=6)) == 0
    assert controller.agents_decay(project=project, now=timezone.now() + timedelta(days=8)) == 1
    assert _state(project)["state"] == "compliant"


def test_fresh_clean_evidence_renews_a_decaying_tier(market, project):
    clean(project)
    controller.agent_move(project=project, agent="trader", to="trusted", actor="rita", reason="audited")
    AgentState.objects.filter(project=project, agent="trader").update(
        entered_at=timezone.now() - timedelta(days=6), renewed_at=timezone.now() - timedelta(days=6)
    )
    clean(project)  # renews now
    assert controller.agents_decay(project=project, now=timezone.now() + timedelta(days=3)) == 0
    assert _state(project)["state"] == "trusted"


def test_new_graph_version_keeps_states_it_still_has_with_its_new_sanctions(market, project):
    colluding(project)
    colluding(project)
    graph_publish(project=project, source=MARKET.replace("minimum: 10", "minimum: 20"), actor="alice")
    state = _state(project)
    assert (state["state"], state["arg_bounds"]) == ("warned", {"produce": {"quantity": {"minimum": 20}}})


def test_ending_an_episode_runs_the_oracle_through_the_signal(market, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        play_round(project, violations=[("critical", 2)], run_oracle=False)
    assert _state(project)["state"] == "suspended"


def test_beat_sweep_catches_up_episodes_the_oracle_missed(market, project):
    from apps.governance.oracle import oracle_sweep

    play_round(project, violations=[("critical", 2)], run_oracle=False)
    assert oracle_sweep() == 1
    assert _state(project)["state"] == "suspended"
    assert oracle_sweep() == 0
