"""controller.RunAgents (a run's Controller, held across its rounds) moves agents exactly as agent_observe
does, writes the log only through the outbox, and chains it once, at the end of the transaction."""

import pytest
from django.db import transaction

from apps.audit.models import GovernanceLogEntry, GovernanceLogOutbox
from apps.governance import controller
from apps.governance.graphs import graph_publish
from apps.governance.models import AgentState, Evidence, Sanction
from apps.traces import services as traces
from tests.governance.builders import MARKET

pytestmark = pytest.mark.django_db

# (metrics, verdicts) per round: two colluding rounds (warned), blocks (restricted), clean rounds back.
ROUNDS = [({"metric.collusion_tier": 3}, []), ({"metric.collusion_tier": 4}, []),
          ({}, ["block", "block", "allow"]), ({}, []), ({}, []), ({}, []), ({}, []), ({}, [])]


def _evidence(project, episode, agent, number, metrics, verdicts):
    blocked = sum(1 for v in verdicts if v == "block")
    values = {"decisions.total": len(verdicts), "decisions.blocked": blocked,
              "block_rate": round(blocked / len(verdicts), 6) if verdicts else 0, "steps": len(verdicts), **metrics}
    marks = {"decisions.blocked": list(range(blocked))} if blocked else {}
    return Evidence.objects.create(project=project, agent=agent, episode=episode, round=number, values=values,
                                   marks=marks)


def _row(project, agent):
    state = AgentState.objects.get(project=project, agent=agent)
    return (state.state, state.counters, state.suspended, state.revoked_tools, state.arg_bounds)


def _logged(project, agent):
    return [(e.event, {k: v for k, v in e.data.items() if k not in ("agent", "sanction_id")})
            for e in GovernanceLogEntry.objects.filter(project=project).order_by("seq") if e.data.get("agent") == agent]


def test_a_runs_controller_moves_agents_and_logs_as_agent_observe_does(project):
    version = graph_publish(project=project, source=MARKET, actor="alice")
    episode, _ = traces.episode_upsert(project=project, external_id="run-1", agents=["a@1", "b@1"])
    run_agents = controller.RunAgents(project=project, version=version, agents=["b@1"])
    history_a: list[dict] = []
    history_b: list[dict] = []
    for number, (metrics, verdicts) in enumerate(ROUNDS, start=1):
        with transaction.atomic():
            for agent, history in (("a@1", history_a), ("b@1", history_b)):
                row = _evidence(project, episode, agent, number, metrics, verdicts)
                history.insert(0, {"values": row.values, "marks": row.marks})
            moved_a = controller.agent_observe(project=project, agent="a@1", evidence=row, graph=version,
                                               history=history_a)
            moved_b = run_agents.observe(agent="b@1", evidence=row, history=history_b)
            run_agents.save()
        run_agents.release()
        assert moved_a == moved_b
        assert _row(project, "a@1") == _row(project, "b@1")
    assert _row(project, "b@1")[0] == "compliant"
    assert _logged(project, "a@1") == _logged(project, "b@1") != []
    kinds = [list(Sanction.objects.filter(project=project, agent=a).order_by("id").values_list("kind", "lifted_at"))
             for a in ("a@1", "b@1")]
    assert [k for k, _ in kinds[0]] == [k for k, _ in kinds[1]]


def test_a_runs_controller_defers_its_log_entries_until_save(project):
    version = graph_publish(project=project, source=MARKET, actor="alice")
    episode, _ = traces.episode_upsert(project=project, external_id="run-2", agents=["c@2"])
    run_agents = controller.RunAgents(project=project, version=version, agents=["c@2"])
    with transaction.atomic():
        before = GovernanceLogEntry.objects.filter(project=project).count()
        row = _evidence(project, episode, "c@2", 1, {}, [])
        run_agents.observe(agent="c@2", evidence=row, history=[{"values": row.values, "marks": row.marks}])
        assert GovernanceLogEntry.objects.filter(project=project).count() == before  # no lock taken yet
        assert GovernanceLogOutbox.objects.filter(project=project, event="governance.transition").exists()
        run_agents.save()
        assert GovernanceLogEntry.objects.filter(project=project, event="governance.transition").count() == 1
        assert not GovernanceLogOutbox.objects.filter(project=project).exists()
    run_agents.release()
    assert _row(project, "c@2")[:2] == ("compliant", {"rounds_in_state": 1, "clean_streak": 1})
