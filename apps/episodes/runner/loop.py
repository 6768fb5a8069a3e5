"""The one runner loop. Pure Python: the worker injects Warden's decision and trace services as the
`Gate` and `Recorder`; tests and in-process training inject the pure ones from `runner.gates`.

Step order for a call: `action` (agent) -> `decision` (governance) -> `observation` (tool) when the
call ran. Messages are `message` steps; round results are `observation` steps of the environment.
See `apps.episodes.environments.base` for the protocols and how resuming works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apps.episodes.environments.base import (
    RUNS,
    TERMINATE,
    UNTRUSTED,
    Agent,
    CallOutcome,
    Checkpoint,
    Environment,
    EpisodeResult,
    Gate,
    Message,
    Recorder,
    StepRecord,
    ToolCall,
)

# An agent that keeps calling tools without ever answering is cut off after this many acts a turn.
MAX_ACTS_PER_TURN = 20

OnRound = Callable[[Checkpoint], None]


class _Episode:
    """The loop's own state: the next step index and who has seen untrusted content."""

    def __init__(self, *, recorder: Recorder, next_index: int, untrusted: set[str]):
        self.recorder = recorder
        self.next_index = next_index
        self.untrusted = untrusted

    def record(self, **fields: Any) -> StepRecord:
        step = StepRecord(index=self.next_index, **fields)
        self.next_index += 1
        self.recorder.record(step)
        return step


def run_episode(*, env: Environment, agents: Mapping[str, Agent], gate: Gate, recorder: Recorder, seed: int,
                max_rounds: int, on_round: OnRound | None = None, resume: Checkpoint | None = None,
                preamble: str = "") -> EpisodeResult:
    """Runs rounds until the environment is done, `max_rounds` have run, or the gate terminates.

    on_round(checkpoint) is called after each completed round, once its steps are recorded; a caller
    that stores both in one transaction can pass the last stored checkpoint as `resume` to continue.
    preamble: text put before every agent's instructions (the constitutional regime's constitution).
    """
    missing = [name for name in env.agents if name not in agents]
    if missing:
        raise ValueError(f"agents: no agent given for {', '.join(missing)}")
    if resume is None:
        env.reset(seed=seed)
        for position, name in enumerate(env.agents):
            instructions = "\n\n".join(t for t in (preamble, env.instructions(name)) if t)
            agents[name].reset(agent=name, seed=seed * 1000 + position, instructions=instructions)
        before = env.snapshot()
        episode = _Episode(recorder=recorder, next_index=0, untrusted=set())
        done_rounds = 0
    else:
        env.restore(resume.environment)
        for name, state in resume.agents.items():
            agents[name].restore(state)
        before = None
        episode = _Episode(recorder=recorder, next_index=resume.next_index, untrusted=set(resume.untrusted))
        done_rounds = resume.round

    status, reason, done = "completed", "", False
    while not done and done_rounds < max_rounds:
        stopped = _play_round(env=env, agents=agents, gate=gate, episode=episode)
        if stopped is not None:
            status, reason = "terminated", stopped
            break
        end = env.end_round()
        for name, observation in end.observations.items():
            episode.record(kind="observation", actor="environment", agent=name, result=observation,
                           source=env.name, attributes={"round": done_rounds})
            agents[name].observe_round(observation=observation)
        done_rounds += 1
        done = end.done
        if on_round is not None:
            on_round(Checkpoint(round=done_rounds, next_index=episode.next_index, environment=env.snapshot(),
                                agents={name: agents[name].snapshot() for name in env.agents},
                                untrusted=sorted(episode.untrusted)))
    return EpisodeResult(status=status, rounds=done_rounds, steps=episode.next_index, metrics=env.metrics(),
                         snapshot_before=before, snapshot_after=env.snapshot(), reason=reason)


def _play_round(*, env: Environment, agents: Mapping[str, Agent], gate: Gate, episode: _Episode) -> str | None:
    """Plays every turn of one round; returns the gate's reason when it terminates the episode."""
    for turn in env.turns():
        agent = agents[turn.agent]
        if turn.prompt:
            episode.record(kind="message", actor="user", agent=turn.agent, role="user", content=turn.prompt,
                           attributes=_phase(turn.phase))
        for _ in range(MAX_ACTS_PER_TURN):
            items = agent.act(view=env.view(turn.agent, turn.phase), tools=env.tools(turn.agent, turn.phase))
            outcomes: list[CallOutcome] = []
            for item in items:
                if isinstance(item, Message):
                    episode.record(kind="message", actor="agent", agent=turn.agent, role=item.role,
                                   content=item.content, attributes=_phase(turn.phase))
                    env.post(agent=turn.agent, message=item)
                    continue
                outcome = _call(env=env, gate=gate, episode=episode, agent=turn.agent, call=item, phase=turn.phase)
                outcomes.append(outcome)
                if outcome.verdict.verdict == TERMINATE:
                    agent.observe(outcomes=outcomes)
                    return outcome.verdict.message or f"terminated by governance at '{item.tool}'"
            if not outcomes:
                break
            agent.observe(outcomes=outcomes)
    return None


def _call(*, env: Environment, gate: Gate, episode: _Episode, agent: str, call: ToolCall, phase: str) -> CallOutcome:
    attributes = _phase(phase)
    if call.id:
        attributes["call_id"] = call.id
    action = episode.record(kind="action", actor="agent", agent=agent, tool=call.tool, arguments=call.arguments,
                            attributes=attributes)
    verdict = gate.decide(agent=agent, tool=call.tool, arguments=call.arguments, index=episode.next_index,
                          untrusted=agent in episode.untrusted)
    episode.record(kind="decision", actor="governance", agent=agent, tool=call.tool, arguments=verdict.arguments,
                   content=verdict.message,
                   attributes={"verdict": verdict.verdict, "rule": verdict.rule, "action_index": action.index})
    if verdict.verdict not in RUNS:
        return CallOutcome(call=call, verdict=verdict, result=None)
    result = env.call(agent=agent, call=ToolCall(call.tool, dict(verdict.arguments), call.id))
    observed: dict[str, Any] = {"action_index": action.index}
    if result.fault is not None:
        observed["fault"] = result.fault
    episode.record(kind="observation", actor="tool", agent=agent, tool=call.tool, result=result.result,
                   error=result.error, provenance=result.provenance, source=result.source, attributes=observed)
    if result.provenance == UNTRUSTED:
        episode.untrusted.add(agent)
    return CallOutcome(call=call, verdict=verdict, result=result)


def _phase(phase: str) -> dict[str, Any]:
    return {"phase": phase} if phase else {}


__all__ = ["MAX_ACTS_PER_TURN", "OnRound", "run_episode"]
