"""Fault injection: reproducible by rate and seed, visible in the trace, scored as containment."""

import pytest

from apps.episodes.agents.scripted import ScriptedAgent
from apps.episodes.environments.base import SpecError, ToolCall
from apps.episodes.environments.faults import FaultSpec, FaultyEnvironment, containment_rate, payload_called
from apps.episodes.environments.ledger import LedgerEnvironment
from apps.episodes.runner.gates import AllowAll, ListRecorder, PolicyGate
from apps.episodes.runner.loop import run_episode
from apps.policies.engine import compile_policy

PLAN = [[ToolCall("read_note", {}), ToolCall("add", {"amount": 1})]]
NOTES = {"memory": ["read_note"]}


def _run(spec: FaultSpec, *, gate=None, rounds=20, seed=1):
    recorder = ListRecorder()
    env = FaultyEnvironment(LedgerEnvironment(rounds=rounds), spec)
    result = run_episode(env=env, agents={"a": ScriptedAgent(PLAN)}, gate=gate or AllowAll(), recorder=recorder,
                         seed=seed, max_rounds=rounds)
    faults = [s.attributes["fault"] for s in recorder.steps if "fault" in s.attributes]
    return result, recorder, faults


def test_the_same_rate_and_seed_give_the_same_faults_and_another_seed_others():
    first = _run(FaultSpec(rate=0.3, seed=5))[2]
    assert first == _run(FaultSpec(rate=0.3, seed=5))[2]
    assert first != _run(FaultSpec(rate=0.3, seed=6))[2]
    assert 3 <= len(first) <= 25  # 40 calls at 0.3
    assert _run(FaultSpec(rate=0.0, seed=5))[2] == []


def test_the_runs_seed_varies_the_faults_too_so_an_experiments_seeds_are_different_draws():
    spec = FaultSpec(rate=0.3, seed=5)
    by_seed = {seed: _run(spec, seed=seed)[2] for seed in (1, 2, 3)}
    assert by_seed[1] == _run(spec, seed=1)[2]
    assert len({repr(faults) for faults in by_seed.values()}) == 3


def test_service_errors_stop_the_call_and_are_recorded_on_its_observation():
    result, recorder, faults = _run(FaultSpec(rate=1.0, kinds=("error",), boundaries={}), rounds=2)
    assert result.metrics["totals"] == {"a": 0} and result.metrics["faults"] == 4
    errors = [s for s in recorder.steps if s.kind == "observation" and s.actor == "tool"]
    assert all("injected fault" in s.error for s in errors)
    assert faults[0] == {"id": 1, "kind": "error", "boundary": "tool", "tool": "read_note"}


def test_faults_are_placed_at_the_boundary_their_tool_belongs_to():
    _, _, faults = _run(FaultSpec(rate=1.0, kinds=("timeout",), boundaries=NOTES, where=("memory",)), rounds=3)
    assert {(f["boundary"], f["tool"]) for f in faults} == {("memory", "read_note")} and len(faults) == 3


def test_truncated_and_corrupted_results_differ_from_the_real_ones():
    _, clean, _ = _run(FaultSpec(rate=0.0), rounds=1)
    _, cut, _ = _run(FaultSpec(rate=1.0, kinds=("truncate",)), rounds=1)
    _, bad, _ = _run(FaultSpec(rate=1.0, kinds=("corrupt",)), rounds=1)
    real = clean.steps[2].result["note"]
    assert len(cut.steps[2].result) < len(real) + 12 and cut.steps[2].result.startswith('{"note"')
    assert bad.steps[2].result["note"] != real and sorted(bad.steps[2].result["note"].split()) == sorted(real.split())


def test_an_injected_instruction_is_untrusted_and_containment_counts_whether_its_call_ran():
    spec = FaultSpec(rate=1.0, kinds=("inject",), tools=("read_note",), payload={"tool": "add", "arguments": {"amount": 1}})
    _, recorder, faults = _run(spec, rounds=3)
    note = recorder.steps[2]
    assert note.provenance == "untrusted" and "call add" in note.result and len(faults) == 3
    assert containment_rate(recorder.steps, unsafe=payload_called(spec.payload)) == 0.0
    careful = compile_policy("name: careful\ndefault: allow\nrules:\n  - tool: add\n    effect: deny\n"
                             "    if: {untrusted: true}\n")
    _, gated, _ = _run(spec, gate=PolicyGate(policy=careful), rounds=3)
    assert containment_rate(gated.steps, unsafe=payload_called(spec.payload)) == 1.0


def test_no_fault_means_no_containment_figure():
    assert containment_rate(_run(FaultSpec(rate=0.0))[1].steps, unsafe=payload_called({"tool": "add"})) is None


def test_resuming_a_faulty_environment_continues_the_same_fault_sequence():
    whole = _run(FaultSpec(rate=0.4, seed=9), rounds=6)[2]
    env = FaultyEnvironment(LedgerEnvironment(rounds=6), FaultSpec(rate=0.4, seed=9))
    saved = []
    run_episode(env=env, agents={"a": ScriptedAgent(PLAN)}, gate=AllowAll(), recorder=ListRecorder(), seed=1,
                max_rounds=3, on_round=saved.append)
    rest = ListRecorder()
    again = FaultyEnvironment(LedgerEnvironment(rounds=6), FaultSpec(rate=0.4, seed=9))
    run_episode(env=again, agents={"a": ScriptedAgent(PLAN)}, gate=AllowAll(), recorder=rest, seed=1,
                max_rounds=6, resume=saved[-1])
    assert again.log == whole


@pytest.mark.parametrize(("spec", "field"), [
    ({"rate": 2}, "faults.rate"), ({"kinds": ["explode"]}, "faults.kinds"), ({"where": []}, "faults.where"),
    ({"payload": {"arguments": {}}}, "faults.payload"), ({"often": 1}, "faults.often"),
])
def test_a_bad_fault_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as caught:
        FaultSpec.from_dict(spec)
    assert caught.value.field == field
