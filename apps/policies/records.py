"""The typed records of one decision, from the request to the write (see docs/architecture.md).

    DecideInput ──decisions.decision_make──▶ DecideContext (sql.decide_context: one read, no lock)
        ──engine.decide──▶ DecisionRecord (row + step + guard + log event) ──▶ sql.decision_write
                                                                      or decisions._store_in_transaction
"""

from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, TypedDict

from apps.policies import engine
from apps.tenancy.idempotency import Claim, Stored, fingerprint
from apps.traces.models import Episode

NO_GUARD = -1  # the `rev` of a guard row that did not exist when the context was read


@dataclass
class DecideInput:
    """One tool call to decide, as the API validated it."""

    episode: str
    agent: str
    tool: str
    arguments: dict
    step_index: int | None = None
    untrusted: bool = False
    environment: str | None = None
    kind: str = "tool"  # or "message": `tool` is then the recipient, `arguments` {"content", "to"}
    idempotency: Claim | None = None  # the client's Idempotency-Key, scoped to its API key

    def fingerprint(self) -> str:
        """What the call asks for, as an idempotency key's digest (the key itself left out)."""
        return fingerprint(self.kind, self.episode, self.agent, self.tool, self.arguments, self.step_index,
                           self.untrusted, self.environment)


@dataclass
class Guard:
    """An episode's policies_episodeguard row as read: what decisions carry from call to call."""

    untrusted: bool
    scanned_to: int
    counts: dict
    narrowings: list
    rev: int = NO_GUARD


@dataclass
class BoundVersion:
    """The policy version a binding puts in force (the engine is cached by digest)."""

    id: int
    digest: str


@dataclass
class DecideContext:
    """Everything a decision reads, in one statement without a lock (sql.decide_context)."""

    episode: Episode  # a partial instance: the key and the fields step_append and episode_end need
    guard: Guard
    untrusted_seen: bool  # untrusted steps since the guard's last scan (or earlier)
    bindings: list  # [binding id, agent glob, environment glob, priority, version id, digest]
    decision_id: int  # taken from the Decision id sequence, so the step can name it
    governance: dict  # {"state", "suspended", "revoked_tools", "arg_bounds"} of the calling agent
    runtime_contracts: bool  # new steps need the steps_appended receivers (traces.signals work conditions)
    prior: Stored | None = None  # the answer already stored under the call's idempotency key
    provenance: "Prefetched | None" = None  # index rows read with the context, if the policy asks the index

    def version_for(self, *, agent: str, environment: str) -> BoundVersion | None:
        """Highest priority first, exact names before globs at equal priority, then the oldest binding."""
        best = None
        for binding_id, b_agent, b_env, priority, version_id, digest in self.bindings:
            if fnmatchcase(agent or "", b_agent) and fnmatchcase(environment or "", b_env):
                key = (priority, (b_agent == agent) + (b_env == environment), -binding_id)
                if best is None or key > best[0]:
                    best = (key, BoundVersion(version_id, digest))
        return best[1] if best else None


@dataclass
class Prefetched:
    """Provenance index rows read with a decision's context: those of `values` that exist, and the
    episode's untrusted sources (`source:<name>` rows); each row is sql.PROVENANCE_COLUMNS."""

    values: list[str]
    rows: list


class DecisionRow(TypedDict):
    """The policies_decision columns a decision writes (sql.DECISION_COLUMNS, checked by a test)."""

    id: int
    project_id: int
    episode_id: int
    step_index: int | None
    agent: str
    kind: str
    tool: str
    arguments: dict
    final_arguments: dict
    verdict: str
    outcome: str
    status: str
    rule: str
    message: str
    policy_version_id: int | None
    policy_digest: str
    tier: str
    evidence: dict
    created_at: datetime
    latency_us: int


@dataclass
class GuardWrite:
    """The guard as the decision leaves it; written only while the guard is still at the rev it read."""

    counts: dict
    untrusted: bool
    scanned_to: int
    now: datetime


@dataclass
class DecisionRecord:
    """What one decision stores, together or not at all: its row, its step, the guard, the log event."""

    call: DecideInput
    context: DecideContext
    verdict: engine.Verdict
    version: BoundVersion | None
    row: DecisionRow
    step: dict[str, Any]  # the decision step, as traces.step_append takes it
    guard: GuardWrite
    actor: str  # who asked (the log entry's actor)
    log: dict[str, Any]  # the "decision" log event's data
    clear: dict[str, Any] = field(default_factory=dict)  # an ask's sensitive values, for its reviewer only
    answer: dict[str, Any] = field(default_factory=dict)  # the arguments the caller is told, in clear
