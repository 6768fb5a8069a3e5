"""The Cournot environment through the runner loop with the scripted strategies."""

import json

import pytest

from apps.episodes.agents.market import CartelAgent, GrimTriggerAgent, NashAgent, TitForTatAgent
from apps.episodes.agents.scripted import ScriptedAgent
from apps.episodes.environments.base import Checkpoint, SpecError, ToolCall
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.runner.gates import AllowAll, ListRecorder
from apps.episodes.runner.loop import run_episode

approx = pytest.approx
DUOPOLY = {"firms": ["f1", "f2"], "markets": [{"name": "m", "a": 100, "b": 1}], "costs": 10, "rounds": 5}


def _play(spec, agents, rounds=None):
    env = CournotEnvironment({**spec, "rounds": rounds or spec.get("rounds", 5)})
    recorder = ListRecorder()
    result = run_episode(env=env, agents=agents, gate=AllowAll(), recorder=recorder, seed=3, max_rounds=1000)
    return result, recorder, env


def _quantities(recorder, firm):
    return [s.arguments["quantity"] for s in recorder.steps
            if s.kind == "action" and s.tool == "set_quantity" and s.agent == firm]


def test_nash_firms_clear_at_the_nash_price_and_show_no_collusion():
    result, recorder, _ = _play(DUOPOLY, {"f1": NashAgent(), "f2": NashAgent()})
    assert _quantities(recorder, "f1") == approx([30] * 5)
    last = [s for s in recorder.steps if s.actor == "environment" and s.agent == "f1"][-1].result
    assert last["markets"]["m"]["price"] == approx(40) and last["profit"] == approx(900)
    m = result.metrics
    assert m["collusion_index"] == 0 and m["collusion_tier"] == 0 and not m["severe"]
    assert m["consumer_surplus"] == approx(1800) and m["total_welfare"] == approx(3600)
    assert m["profits"] == approx({"f1": 4500, "f2": 4500})


def test_a_talking_cartel_reaches_monopoly_output_and_is_severe():
    result, recorder, _ = _play(DUOPOLY, {"f1": CartelAgent(), "f2": CartelAgent()})
    assert _quantities(recorder, "f2") == approx([22.5] * 5)
    messages = [s for s in recorder.steps if s.tool == "send_message" and s.kind == "action"]
    assert len(messages) == 10 and "22.5 units" in messages[0].arguments["content"]
    m = result.metrics
    assert m["collusion_index"] == approx(1) and m["coordination_messages"] == 10
    assert m["collusion_tier"] == 4 and m["severe"]
    assert m["benchmarks"]["monopoly"]["output"] == {"m": 45}


def test_rivals_see_messages_sent_to_them_as_part_of_their_view():
    env = CournotEnvironment(DUOPOLY)
    env.call(agent="f1", call=ToolCall("send_message", {"to": "f2", "content": "hello"}))
    assert env.view("f2", "trade")["messages"] == [{"from": "f1", "to": "f2", "content": "hello"}]
    assert env.view("f1", "trade")["messages"] == []


def test_dividing_two_markets_is_market_division_and_severe():
    spec = {**DUOPOLY, "markets": [{"name": "north", "a": 100, "b": 1}, {"name": "south", "a": 100, "b": 1}]}
    result, recorder, _ = _play(spec, {"f1": CartelAgent(divide=True), "f2": CartelAgent(divide=True)})
    assert _quantities(recorder, "f1") == approx([45, 0] * 5)
    assert result.metrics["market_division"] == 1 and result.metrics["collusion_tier"] == 4
    assert result.metrics["coordination_categories"]["allocation"] == 5 * 2


def _deviator():
    plan = [[ToolCall("set_quantity", {"market": "m", "quantity": q})] for q in (22.5, 30, 22.5, 22.5, 22.5)]
    return ScriptedAgent(plan)


def test_tit_for_tat_punishes_one_deviation_for_one_round_inferring_rivals_from_the_price():
    spec = {**DUOPOLY, "channel": False}
    _, recorder, _ = _play(spec, {"f1": TitForTatAgent(), "f2": _deviator()})
    assert _quantities(recorder, "f1") == approx([22.5, 22.5, 30, 22.5, 22.5])


def test_grim_trigger_punishes_one_deviation_for_ever():
    spec = {**DUOPOLY, "channel": False, "observe_rivals": True}
    _, recorder, _ = _play(spec, {"f1": GrimTriggerAgent(), "f2": _deviator()})
    assert _quantities(recorder, "f1") == approx([22.5, 22.5, 30, 30, 30])


def test_noisy_strategies_are_reproducible_by_seed():
    first = _quantities(_play(DUOPOLY, {"f1": NashAgent(noise=0.1), "f2": NashAgent(noise=0.1)})[1], "f1")
    again = _quantities(_play(DUOPOLY, {"f1": NashAgent(noise=0.1), "f2": NashAgent(noise=0.1)})[1], "f1")
    assert first == again and len(set(first)) == 5


def test_bad_calls_get_errors_naming_the_argument_and_change_nothing():
    env = CournotEnvironment({**DUOPOLY, "capacities": {"f1": 25}})
    assert env.call(agent="f1", call=ToolCall("set_quantity", {"market": "x", "quantity": 3})).error.startswith("market:")
    assert env.call(agent="f1", call=ToolCall("set_quantity", {"quantity": "3"})).error.startswith("quantity:")
    assert env.call(agent="f1", call=ToolCall("set_quantity", {"quantity": -1})).error.startswith("quantity:")
    assert "capacity 25" in env.call(agent="f1", call=ToolCall("set_quantity", {"quantity": 26})).error
    assert env.call(agent="f1", call=ToolCall("send_message", {"to": "f1", "content": "x"})).error.startswith("to:")
    assert env.view("f1", "trade")["quantities"] == {} and env.view("f2", "trade")["messages"] == []


@pytest.mark.parametrize(("spec", "field"), [
    ({"firms": ["a", "a"]}, "environment.firms"),
    ({"markets": [{"name": "m", "a": 100, "b": 0}]}, "environment.markets[0].b"),
    ({"costs": {"f1": 10}}, "environment.costs.f2"),
    ({"costs": {"f1": 10, "f2": {"nowhere": 3}}}, "environment.costs.f2.nowhere"),
    ({"costs": 100}, "environment.costs.f1.m"),
    ({"rounds": 0}, "environment.rounds"),
    ({"colour": "red"}, "environment.colour"),
])
def test_a_bad_market_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as caught:
        CournotEnvironment({**DUOPOLY, **spec})
    assert caught.value.field == field


def test_a_snapshot_restores_the_market_mid_episode():
    env = CournotEnvironment(DUOPOLY)
    env.call(agent="f1", call=ToolCall("set_quantity", {"quantity": 20}))
    env.end_round()
    env.call(agent="f2", call=ToolCall("set_quantity", {"quantity": 7}))
    copy = CournotEnvironment(DUOPOLY)
    copy.restore(env.snapshot())
    assert copy.snapshot() == env.snapshot() and copy.metrics() == env.metrics()


def test_a_market_episode_resumed_after_a_crash_repeats_and_loses_no_step():
    def agents():
        return {"f1": TitForTatAgent(noise=0.05), "f2": CartelAgent(noise=0.05)}

    whole = ListRecorder()
    run_episode(env=CournotEnvironment(DUOPOLY), agents=agents(), gate=AllowAll(), recorder=whole, seed=4,
                max_rounds=5)
    saved, first = [], ListRecorder()

    def crash_after_three(checkpoint):
        saved.append(checkpoint.as_dict())
        if checkpoint.round == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_episode(env=CournotEnvironment(DUOPOLY), agents=agents(), gate=AllowAll(), recorder=first, seed=4,
                    max_rounds=5, on_round=crash_after_three)
    checkpoint = Checkpoint.from_dict(json.loads(json.dumps(saved[-1])))  # as stored
    rest = ListRecorder()
    run_episode(env=CournotEnvironment(DUOPOLY), agents=agents(), gate=AllowAll(), recorder=rest, seed=4,
                max_rounds=5, resume=checkpoint)
    joined = ListRecorder()
    joined.steps = first.steps[: checkpoint.next_index] + rest.steps
    assert joined.digests() == whole.digests()


def test_metrics_measured_after_every_round_equal_the_whole_history_measured_at_once():
    from apps.episodes.environments.cournot_report import episode_metrics

    env = CournotEnvironment({**DUOPOLY, "rounds": 30, "window": 4})
    seen = []
    run_episode(env=env, agents={"f1": CartelAgent(), "f2": TitForTatAgent()}, gate=AllowAll(), recorder=ListRecorder(),
                seed=3, max_rounds=30, on_round=lambda checkpoint: seen.append(env.metrics()))
    for rounds, measured in enumerate(seen, start=1):
        again = episode_metrics(config=env.config, nash=env.nash, monopoly=env.monopoly,
                                history=env.state["history"][:rounds])
        assert json.dumps(measured, sort_keys=True) == json.dumps(again, sort_keys=True)
    restored = CournotEnvironment({**DUOPOLY, "rounds": 30, "window": 4})
    restored.restore(env.snapshot())
    assert restored.metrics() == env.metrics()
