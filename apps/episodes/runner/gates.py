"""Gates and recorders for running episodes without Warden's services: tests, training, replays.

`PolicyGate` decides with the pure policy engine exactly as `/decide` (tool calls) and
`/decide/message` (outgoing messages) would for the same policy and governance state. Its
provenance index is kept as the trace services keep `/decide`'s: each step it is given
(`gate.record(step)`, or every step of a run through `gate.indexing(recorder)`) is checked and
normalised as the ingest API does (traces.schema.step_normalize), then indexed by the same
function (policies.engine.provenance.origins_of). `ListRecorder` keeps steps in memory and digests
them, so two runs (a live one and its replay) can be compared step for step.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.episodes.environments.base import ALLOW, GateVerdict, Recorder, StepRecord
from apps.policies.engine import MESSAGE, Call, CompiledPolicy, Context, ProvenanceIndex, Verdict, decide
from apps.traces.schema import step_normalize


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
    its provenance index (`from`, `tainted`, `asked` and `untrusted: {source}` need the steps: run
    the episode with `recorder=gate.indexing(recorder)`, or give each step to `record`)."""

    def __init__(self, *, policy: CompiledPolicy, environment: str = "",
                 governance: Mapping[str, AgentGovernance] | None = None):
        self.policy = policy
        self.environment = environment
        self.governance: dict[str, AgentGovernance] = dict(governance or {})
        self.counts: dict[str, Counter[str]] = {}
        self.provenance = ProvenanceIndex()

    def indexing(self, recorder: Recorder) -> Recorder:
        """`recorder`, with every step also given to this gate (`record`)."""
        return _Indexing(self, recorder)

    def record(self, step: StepRecord | Mapping[str, Any]) -> None:
        """Indexes one stored step as the trace services do for `/decide` (raises
        traces.schema.InvalidInput for a step the ingest API would refuse)."""
        data = step.as_dict() if isinstance(step, StepRecord) else dict(step)
        self.provenance.add_steps([step_normalize(data)])

    def decide(self, *, agent: str, tool: str, arguments: dict[str, Any], index: int,
               untrusted: bool = False) -> GateVerdict:
        verdict = self.verdict(Call(tool, arguments, agent), index=index, untrusted=untrusted)
        return GateVerdict(verdict.verdict, verdict.arguments, verdict.message, verdict.rule)

    def decide_message(self, *, agent: str, content: str, to: str = "user", index: int,
                       untrusted: bool = False) -> GateVerdict:
        """An outgoing message, decided by the policy's `message:` rules as `/decide/message` does:
        `to` is the recipient (the rule's name), the arguments are {content, to}."""
        verdict = self.verdict(Call(to, {"content": content, "to": to}, agent, MESSAGE), index=index,
                               untrusted=untrusted)
        return GateVerdict(verdict.verdict, verdict.arguments, verdict.message, verdict.rule)

    def verdict(self, call: Call, *, index: int, untrusted: bool = False) -> Verdict:
        """The engine's whole verdict (with its detail and provenance finding) for a tool call or message."""
        gov = self.governance.get(call.agent or "") or AgentGovernance()
        counts = self.counts.setdefault(call.agent or "", Counter())
        ctx = Context(untrusted=untrusted, counts=counts, steps=index, environment=self.environment,
                      state=gov.state, suspended=gov.suspended, revoked_tools=gov.revoked_tools,
                      arg_bounds=gov.arg_bounds, provenance=self.provenance)
        verdict = decide(self.policy, call, ctx)
        if verdict.verdict in (ALLOW, "rewrite") and call.kind != MESSAGE:  # `calls` counts tool calls only
            counts[call.tool] += 1
        return verdict


class _Indexing:
    def __init__(self, gate: PolicyGate, recorder: Recorder):
        self.gate, self.recorder = gate, recorder

    def record(self, step: StepRecord) -> None:
        self.gate.record(step)
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
