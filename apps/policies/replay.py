"""Replays tool calls (stored episodes or a JSONL file) through a policy and reports what would change."""

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from apps.policies import engine
from apps.tenancy.models import Project
from apps.traces.models import Episode, Step


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
    """Each action step is decided as if this policy had been in force, with the episode's context
    rebuilt step by step. "Before" is the verdict recorded for that call, or allow if it just ran."""
    report = Report()
    for episode in episodes:
        counts: Counter = Counter()
        untrusted = False
        last_decision: dict[str, str] = {}
        steps = (Step.objects.filter(episode=episode).order_by("index")
                 .only("index", "kind", "tool", "agent", "arguments", "provenance", "attributes"))
        for step in steps.iterator(chunk_size=2000):
            if step.kind == "decision":
                last_decision[step.tool] = (step.attributes or {}).get("verdict", "allow")
            elif step.kind == "action" and step.tool:
                ctx = engine.Context(untrusted=untrusted, counts=dict(counts), steps=step.index,
                                     environment=episode.environment)
                args = step.arguments if isinstance(step.arguments, dict) else {}
                verdict = engine.decide(policy, engine.Call(step.tool, args, step.agent), ctx)
                before = last_decision.pop(step.tool, "allow")
                report.add(f"{episode.external_id}#{step.index}", step.tool, before, verdict, keep)
                if verdict.verdict in (engine.ALLOW, engine.REWRITE):
                    counts[step.tool] += 1
            if step.provenance == "untrusted":
                untrusted = True
    return report


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
