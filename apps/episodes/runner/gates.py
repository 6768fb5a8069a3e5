"""Gates and recorders for running episodes without Warden's services: tests, training, replays.

`PolicyGate` decides with the pure policy engine exactly as `/decide` would for the same policy and
governance state, with the episode's provenance index fed by the recorder it wraps
(`gate.indexing(recorder)`), as the trace services feed `/decide`'s; `ListRecorder` keeps steps in memory and digests them, so two runs (a live one and
its replay) can be compared step for step.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.episodes.environments.base import ALLOW, GateVerdict, Recorder, StepRecord
from apps.policies.engine import Call, CompiledPolicy, Context, ProvenanceIndex, decide


class AllowAll:
    """The ungoverned regime: every call runs."""

    def decide(self, *, agent: str, tool: str, arguments: dict[str, Any], index: int,
               untrusted: bool = False) -> GateVerdict:
        return GateVerdict(ALLOW, arguments)


@dataclass
class AgentGovernance:
    """What governance currently imposes on one agent (the graph engine's `effect`)."""

    state: str | None = None
    suspended: bool = False
    revoked_tools: list[str] = field(default_factory=list)
    arg_bounds: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


class PolicyGate:
    """Decides with a compiled policy, the agent's governance state, the episode's call counts and
    its provenance index (`from: trusted`, `tainted` and `untrusted: {source}` need the steps: run
    the episode with `recorder=gate.indexing(recorder)`)."""

    def __init__(self, *, policy: CompiledPolicy, environment: str = "",
                 governance: Mapping[str, AgentGovernance] | None = None):
        self.policy = policy
        self.environment = environment
        self.governance: dict[str, AgentGovernance] = dict(governance or {})
        self.counts: dict[str, Counter[str]] = {}
        self.provenance = ProvenanceIndex()

    def indexing(self, recorder: Recorder) -> Recorder:
        """`recorder`, with every step also added to this gate's provenance index."""
        return _Indexing(self.provenance, recorder)

    def decide(self, *, agent: str, tool: str, arguments: dict[str, Any], index: int,
               untrusted: bool = False) -> GateVerdict:
        gov = self.governance.get(agent) or AgentGovernance()
        counts = self.counts.setdefault(agent, Counter())
        ctx = Context(untrusted=untrusted, counts=counts, steps=index, environment=self.environment,
                      state=gov.state, suspended=gov.suspended, revoked_tools=gov.revoked_tools,
                      arg_bounds=gov.arg_bounds, provenance=self.provenance)
        verdict = decide(self.policy, Call(tool, arguments, agent), ctx)
        if verdict.verdict in (ALLOW, "rewrite"):
            counts[tool] += 1
        return GateVerdict(verdict.verdict, verdict.arguments, verdict.message, verdict.rule)


class _Indexing:
    def __init__(self, index: ProvenanceIndex, recorder: Recorder):
        self.index, self.recorder = index, recorder

    def record(self, step: StepRecord) -> None:
        self.index.add_steps([step.as_dict()])
        self.recorder.record(step)


class ListRecorder:
    """Keeps every step in memory, in order."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []

    def record(self, step: StepRecord) -> None:
        self.steps.append(step)

    def digests(self) -> list[str]:
        return [step_digest(step) for step in self.steps]


def step_digest(step: StepRecord) -> str:
    """SHA-256 over the step's canonical JSON: equal digests mean equal steps."""
    body = json.dumps(step.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()
