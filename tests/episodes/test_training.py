"""Q-learning firms trained in process: supra-competitive ungoverned, pulled toward Nash by the institution."""

import pytest

from apps.episodes.agents.qlearning import QLearningAgent
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.runner.gates import AllowAll, ListRecorder
from apps.episodes.runner.loop import run_episode
from apps.episodes.runner.training import train_market
from apps.governance.graph import compile_graph

MARKET = {"firms": ["f1", "f2"], "markets": [{"name": "m", "a": 100, "b": 1}], "costs": 10, "channel": False}
NASH_OUTPUT, MONOPOLY_OUTPUT = 60.0, 45.0
# Collusive output over a block of 25 periods draws a quantity floor near Nash and a fine per period;
# four clean blocks (no blocked call) restore the firm.
INSTITUTION = compile_graph("""
name: market-institution
initial: compliant
tools: [set_quantity]
states:
  compliant: {}
  warned:
    sanctions: [{tighten: {tool: set_quantity, arguments: {quantity: {minimum: 29}}}}, {fine: {amount: 50}}]
transitions:
  - {from: compliant, to: warned, when: "metric.collusion_index >= 0.25"}
restore:
  - {from: warned, to: compliant, after_clean_rounds: 4}
""")
SEEDS = (1, 2, 3)
ROUNDS = 20_000


def _train(seed, graph=None):
    env = CournotEnvironment(MARKET)
    agents = {f: QLearningAgent() for f in env.agents}
    return train_market(env=env, agents=agents, rounds=ROUNDS, seed=seed, graph=graph), env, agents


@pytest.fixture(scope="module")
def trained():
    return {regime: [_train(seed, graph)[0] for seed in SEEDS]
            for regime, graph in (("ungoverned", None), ("institutional", INSTITUTION))}


def _mean(values):
    return sum(values) / len(values)


def test_ungoverned_learners_settle_on_supra_competitive_output(trained):
    runs = trained["ungoverned"]
    assert _mean([s.collusion_index for s in runs]) > 0.3
    assert _mean([s.output["m"] for s in runs]) < NASH_OUTPUT - 4
    assert all(s.sanctions == 0 and s.blocked == {"f1": 0, "f2": 0} for s in runs)


def test_the_institution_pulls_learners_toward_nash_output(trained):
    free, governed = trained["ungoverned"], trained["institutional"]
    assert _mean([s.collusion_index for s in governed]) < _mean([s.collusion_index for s in free]) / 3
    assert _mean([s.output["m"] for s in governed]) > NASH_OUTPUT - 2
    assert all(s.sanctions >= 1 and sum(s.fines.values()) > 0 for s in governed)
    assert governed[0].transitions[0]["to"] == "warned" and governed[0].regime == "institutional"


def test_training_is_reproducible_by_seed():
    first, second = _train(4)[0], _train(4)[0]
    assert first.as_dict() == second.as_dict()
    assert first.nash_output == {"m": NASH_OUTPUT} and first.monopoly_output == {"m": MONOPOLY_OUTPUT}


def test_trained_learners_play_their_greedy_policy_in_a_traced_episode():
    summary, env, agents = _train(2)
    recorder = ListRecorder()
    result = run_episode(env=CournotEnvironment({**MARKET, "rounds": 20}), agents=agents, gate=AllowAll(),
                         recorder=recorder, seed=2, max_rounds=20)
    played = [s.arguments["quantity"] for s in recorder.steps if s.kind == "action" and s.agent == "f1"]
    assert len(played) == 20 and agents["f1"].learning is False
    assert set(played) <= {round(q, 6) for q in agents["f1"].markets["m"]["grid"]}
    assert result.metrics["collusion_index"] == pytest.approx(summary.collusion_index, abs=0.35)


def test_a_learners_snapshot_restores_what_it_learned_and_its_random_stream():
    _, _, agents = _train(3)
    agents["f1"].learning = True  # keep exploring so the random stream matters
    copy = QLearningAgent()
    copy.restore(agents["f1"].snapshot())
    assert [copy.choose() for _ in range(50)] == [agents["f1"].choose() for _ in range(50)]
