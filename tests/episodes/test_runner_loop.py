"""The runner loop: step order, gate verdicts, untrusted context, termination and resuming."""

from apps.episodes.agents.scripted import ScriptedAgent
from apps.episodes.environments.base import Checkpoint, Message, ToolCall
from apps.episodes.environments.ledger import LedgerEnvironment
from apps.episodes.runner.gates import AllowAll, ListRecorder, PolicyGate
from apps.episodes.runner.loop import run_episode
from apps.policies.engine import compile_policy

PLAN = [[Message("reading"), ToolCall("read_note", {}), ToolCall("add", {"amount": 5})]]

NO_ADD_AFTER_UNTRUSTED = """
name: careful
default: allow
rules:
  - tool: add
    effect: deny
    if: {untrusted: true}
    fallback: {action: block, message: "no adding after reading notes"}
"""


def _run(*, gate=None, rounds=3, **kwargs):
    recorder = ListRecorder()
    agent = ScriptedAgent(PLAN)
    result = run_episode(env=LedgerEnvironment(rounds=rounds), agents={"a": agent}, gate=gate or AllowAll(),
                         recorder=recorder, seed=7, max_rounds=10, **kwargs)
    return result, recorder, agent


def test_each_call_is_an_action_then_a_decision_then_an_observation():
    result, recorder, _ = _run(rounds=1)
    kinds = [(s.kind, s.tool) for s in recorder.steps]
    assert kinds == [("message", ""), ("action", "read_note"), ("decision", "read_note"),
                     ("observation", "read_note"), ("action", "add"), ("decision", "add"),
                     ("observation", "add"), ("observation", "")]
    assert [s.index for s in recorder.steps] == list(range(8))
    assert recorder.steps[3].provenance == "untrusted"
    assert result.status == "completed" and result.rounds == 1 and result.metrics["totals"] == {"a": 5}


def test_a_blocked_call_does_not_run_and_the_agent_learns_it_was_blocked():
    gate = PolicyGate(policy=compile_policy(NO_ADD_AFTER_UNTRUSTED))
    result, recorder, agent = _run(gate=gate, rounds=2)
    assert result.metrics["totals"] == {"a": 0}
    decisions = [s.attributes["verdict"] for s in recorder.steps if s.kind == "decision" and s.tool == "add"]
    assert decisions == ["block", "block"]
    assert {"tool": "add", "verdict": "block", "result": None} in agent.seen
    assert not [s for s in recorder.steps if s.kind == "observation" and s.tool == "add"]


NO_NUMBERS_FROM_NOTES = """
name: own-numbers
default: allow
rules:
  - tool: add
    effect: deny
    if: {tainted: [amount]}
    fallback: {action: block, message: "that amount came from a note"}
"""


def test_a_policy_gate_refuses_a_value_only_untrusted_content_carried_when_it_indexes_the_steps():
    gate = PolicyGate(policy=compile_policy(NO_NUMBERS_FROM_NOTES))
    recorder = ListRecorder()
    agent = ScriptedAgent([[ToolCall("read_note", {}), ToolCall("add", {"amount": 100}), ToolCall("add", {"amount": 5})]])
    run_episode(env=LedgerEnvironment(rounds=1), agents={"a": agent}, gate=gate, recorder=gate.indexing(recorder),
                seed=7, max_rounds=1)
    verdicts = [(s.arguments["amount"], s.attributes["verdict"]) for s in recorder.steps
                if s.kind == "decision" and s.tool == "add"]
    assert verdicts == [(100, "block"), (5, "allow")]  # the note said "add 100"; 5 came from nowhere untrusted
    assert [s.kind for s in recorder.steps][:4] == ["action", "decision", "observation", "action"]


def test_a_terminating_gate_ends_the_episode_at_that_call():
    policy = compile_policy("name: stop\ndefault: allow\nrules:\n  - tool: add\n    effect: deny\n"
                            "    fallback: {action: terminate, message: stop now}\n")
    result, recorder, _ = _run(gate=PolicyGate(policy=policy))
    assert result.status == "terminated" and result.reason == "stop now" and result.rounds == 0
    assert recorder.steps[-1].kind == "decision" and recorder.steps[-1].attributes["verdict"] == "terminate"


def test_resuming_from_a_checkpoint_continues_without_duplicated_or_missing_steps():
    whole, whole_steps, _ = _run(rounds=4)
    checkpoints: list[dict] = []
    first = ListRecorder()
    try:
        def crash_after_two(checkpoint: Checkpoint) -> None:
            checkpoints.append(checkpoint.as_dict())
            if checkpoint.round == 2:
                raise KeyboardInterrupt  # the worker dies after committing round 2
        run_episode(env=LedgerEnvironment(rounds=4), agents={"a": ScriptedAgent(PLAN)}, gate=AllowAll(),
                    recorder=first, seed=7, max_rounds=10, on_round=crash_after_two)
    except KeyboardInterrupt:
        pass
    saved = Checkpoint.from_dict(checkpoints[-1])
    committed = first.steps[: saved.next_index]
    rest = ListRecorder()
    resumed = run_episode(env=LedgerEnvironment(rounds=4), agents={"a": ScriptedAgent(PLAN)}, gate=AllowAll(),
                          recorder=rest, seed=7, max_rounds=10, resume=saved)
    assert [s.index for s in committed + rest.steps] == list(range(len(whole_steps.steps)))
    assert ListRecorder.digests(_joined(committed + rest.steps)) == whole_steps.digests()
    assert resumed.metrics == whole.metrics and resumed.rounds == 4


def test_the_preamble_comes_before_the_environments_instructions():
    seen = {}

    class Listening(ScriptedAgent):
        def reset(self, *, agent, seed, instructions):
            seen[agent] = instructions
            super().reset(agent=agent, seed=seed, instructions=instructions)

    run_episode(env=LedgerEnvironment(rounds=1), agents={"a": Listening(PLAN)}, gate=AllowAll(),
                recorder=ListRecorder(), seed=1, max_rounds=1, preamble="Do not collude.")
    assert seen["a"].startswith("Do not collude.\n\nYou are a.")


def _joined(steps):
    recorder = ListRecorder()
    recorder.steps = list(steps)
    return recorder


def test_a_step_record_as_a_dict_is_a_deep_copy_as_dataclasses_makes_it():
    from dataclasses import asdict

    from apps.episodes.environments.base import StepRecord

    result = {"rows": [{"a": 1, "b": [1.5, None, True]}], "n": 2}
    step = StepRecord(index=3, kind="observation", actor="tool", agent="a", tool="t", arguments={"x": {"y": [1]}},
                      result=result, attributes={"round": 0})
    data = step.as_dict()
    assert data == {k: v for k, v in asdict(step).items() if v not in (None, "", {}) or k in ("index", "kind")}
    result["rows"][0]["b"].append(9)
    assert data["result"] == {"rows": [{"a": 1, "b": [1.5, None, True]}], "n": 2}
    odd = StepRecord(index=4, kind="observation", actor="tool", result={"t": (1, 2)})
    assert odd.as_dict()["result"] == {"t": (1, 2)}
