"""Replays tool calls (stored episodes or a JSONL file) through a policy and reports what would change.

A stored episode is replayed step by step with the context `/decide` saw at each call: allowed calls
per tool, whether untrusted content had been read, and the episode's provenance index built from
the steps before the call (so `from: trusted` and `tainted` answer as they did live). `EpisodeReplay`
is that context; the policy what-if (apps.contracts.whatif) uses it too.
"""

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.policies import engine
from apps.tenancy.models import Project
from apps.traces.models import Episode, Step

# What a replay reads of each step: the call, and what the provenance index needs.
REPLAY_FIELDS = ("index", "kind", "actor", "role", "agent", "tool", "arguments", "content", "result", "provenance",
                 "source", "attributes")


class EpisodeReplay:
    """An episode's decision context rebuilt as its steps go by, as `/decide` saw it live.

    Feed every step in index order with `add`; `decide` a call with the context of the steps added
    so far (a decision never sees the steps after it)."""

    def __init__(self, *, policy: engine.CompiledPolicy, environment: str = ""):
        self.policy = policy
        self.environment = environment
        self.index = engine.ProvenanceIndex()
        self.counts: Counter[str] = Counter()
        self.untrusted = False

    def decide(self, step: Mapping[str, Any]) -> engine.Verdict:
        """The verdict for the call a decision or action step holds (a message decision too)."""
        attributes = step.get("attributes") or {}
        kind = engine.MESSAGE if attributes.get("kind") == engine.MESSAGE else engine.TOOL
        arguments = step.get("arguments")
        ctx = engine.Context(untrusted=self.untrusted, counts=dict(self.counts), steps=int(step["index"]),
                             environment=self.environment, provenance=self.index)
        call = engine.Call(str(step.get("tool") or ""), dict(arguments) if isinstance(arguments, dict) else {},
                           str(step.get("agent") or ""), kind)
        verdict = engine.decide(self.policy, call, ctx)
        if verdict.verdict in (engine.ALLOW, engine.REWRITE):
            self.counts[call.tool] += 1
        return verdict

    def add(self, step: Mapping[str, Any]) -> None:
        self.index.add_steps([step])
        if step.get("provenance") == "untrusted":
            self.untrusted = True


@dataclass
class Change:
    where: str
    tool: str
    before: str
    after: str
    rule: str | None


@dataclass
class Report:
    calls: int = 0
    verdicts: Counter = field(default_factory=Counter)
    transitions: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    def add(self, where: str, tool: str, before: str, verdict: engine.Verdict, keep: int) -> None:
        self.calls += 1
        self.verdicts[verdict.verdict] += 1
        if before != verdict.verdict:
            self.transitions[(before, verdict.verdict)] += 1
            if len(self.changes) < keep:
                self.changes.append(Change(where, tool, before, verdict.verdict, verdict.rule))

    def lines(self) -> list[str]:
        out = [f"calls replayed: {self.calls}",
               "verdicts: " + (", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items())) or "none")]
        changed = sum(self.transitions.values())
        out.append(f"would change: {changed}")
        for (before, after), n in self.transitions.most_common():
            out.append(f"  {before} -> {after}: {n}")
        for c in self.changes:
            out.append(f"  {c.where} {c.tool}: {c.before} -> {c.after} (rule {c.rule or 'default'})")
        return out


def replay_episodes(*, policy: engine.CompiledPolicy, project: Project, episodes: Iterable[Episode],
                    keep: int = 20) -> Report:
    """Each call of each episode is decided as if this policy had been in force (episode_verdicts)."""
    report = Report()
    for episode in episodes:
        for row in episode_verdicts(policy=policy, episode=episode):
            report.add(f"{episode.external_id}#{row.index}", row.tool, row.before, row.verdict, keep)
    return report


@dataclass
class StepVerdict:
    """One call of a recorded episode: what was decided (or `allow` for an action nothing decided,
    which just ran) and what `policy` decides with the context the call had live."""

    index: int  # the decision step, or the undecided action step
    agent: str
    tool: str
    arguments: dict
    before: str
    before_rule: str | None
    verdict: engine.Verdict
    decided: bool  # a recorded decision (False: an action nothing decided)

    @property
    def after(self) -> str:
        return self.verdict.verdict

    @property
    def changed(self) -> bool:
        return self.before != self.verdict.verdict


def episode_verdicts(*, policy: engine.CompiledPolicy, episode: Episode) -> Iterator[StepVerdict]:
    """Each call of the episode decided again under `policy` (EpisodeReplay), in step order.

    A call is a decision step (its "before" is the recorded verdict), or an action step nothing
    decided (before: allow, it just ran). An action is a decision's own call when it names it
    (`decision_id`, `action_index`) or sits next to it with the same tool and agent: the client
    records the action after its decision, the episode runner before it."""
    replay = EpisodeReplay(policy=policy, environment=episode.environment)
    steps = Step.objects.filter(episode=episode).order_by("index").values(*REPLAY_FIELDS)
    previous: dict | None = None  # the last decision or action
    held: dict | None = None  # an action the next step may turn out to have decided
    for step in steps.iterator(chunk_size=2000):
        call = step
        if held is not None:
            if _decides(step, held):  # the runner stores the arguments that ran; decide those asked
                call = {**step, "arguments": held["arguments"]}
            else:
                yield _undecided(held, replay.decide(held))
        held = None
        if step["kind"] == "decision":
            attributes = step["attributes"] or {}
            yield StepVerdict(index=step["index"], agent=step["agent"], tool=step["tool"],
                              arguments=call["arguments"] if isinstance(call["arguments"], dict) else {},
                              before=attributes.get("verdict", "allow"), before_rule=attributes.get("rule"),
                              verdict=replay.decide(call), decided=True)
        elif step["kind"] == "action" and step["tool"] and not _decided(step, previous):
            held = step
        if step["kind"] in ("decision", "action"):
            previous = step
        replay.add(step)
    if held is not None:
        yield _undecided(held, replay.decide(held))


def _undecided(action: Mapping[str, Any], verdict: engine.Verdict) -> StepVerdict:
    arguments = action["arguments"] if isinstance(action["arguments"], dict) else {}
    return StepVerdict(index=action["index"], agent=action["agent"], tool=action["tool"], arguments=arguments,
                       before="allow", before_rule=None, verdict=verdict, decided=False)


def _same_call(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a["tool"], a["agent"]) == (b["tool"], b["agent"])


def _decided(action: Mapping[str, Any], previous: Mapping[str, Any] | None) -> bool:
    """The action ran after a decision (the client's order)."""
    if (action["attributes"] or {}).get("decision_id") is not None:
        return True
    return previous is not None and previous["kind"] == "decision" and _same_call(previous, action)


def _decides(step: Mapping[str, Any], action: Mapping[str, Any]) -> bool:
    """`step` is the decision of the action just before it (the runner's order)."""
    if step["kind"] != "decision":
        return False
    named = (step["attributes"] or {}).get("action_index")
    return named == action["index"] if named is not None else _same_call(step, action)


def replay_jsonl(*, policy: engine.CompiledPolicy, lines: Iterable[str], keep: int = 20) -> Report:
    """Each line: {"tool", "arguments"?, "agent"?, "context"?, "verdict"? (what happened before)}."""
    report = Report()
    for n, call in _calls(lines):
        problems = engine.context_problems(call.get("context"))
        if problems:
            raise ValueError(f"line {n}: context.{problems[0][0]}: {problems[0][1]}")
        verdict = engine.decide(policy, engine.Call(call["tool"], call.get("arguments") or {},
                                                    str(call.get("agent") or "")),
                                engine.context_from(call.get("context")))
        report.add(f"line {n}", call["tool"], str(call.get("verdict") or "allow"), verdict, keep)
    return report


def _calls(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            call = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {n}: not JSON ({exc})") from None
        if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
            raise ValueError(f"line {n}: each line is an object with a 'tool'")
        if not isinstance(call.get("arguments", {}), dict):
            raise ValueError(f"line {n}: 'arguments' is an object")
        yield n, call
