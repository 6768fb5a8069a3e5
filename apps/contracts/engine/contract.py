"""A compiled contract and the incremental checker that runs many contracts over one trace."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from apps.contracts.engine.predicates import Step
from apps.contracts.engine.rules import FAIL, INCONCLUSIVE, PASS, Rule, RuleState, StepValues, Violation
from apps.contracts.engine.values import keep, step_values

StoredViolation = list[Any]  # a rule's Violation as stored (JSON): [first index, [evidence indexes], message]


class ContractState(TypedDict):
    """A contract's checking state (JSON-able, so a live episode's can be stored between batches)."""

    r: list[RuleState]  # per rule
    v: list[StoredViolation | None]  # per rule: its violation, once found
    last: int  # the last step index fed
    n: int  # steps fed


class Evidence(TypedDict):
    rule: str
    operator: str
    step: int
    steps: list[int]
    message: str


class StepContext:
    """Per-step work shared by every contract checking the step (value extraction is the costly part)."""

    __slots__ = ("step", "_said", "_args", "_kept")

    def __init__(self, step: Step):
        self.step = step
        self._said: frozenset[str] | None = None
        self._args: frozenset[str] | None = None
        self._kept: dict[tuple[bool, tuple[str, ...], int], list[str]] | None = None

    def kept(self, arguments: bool, kinds: tuple[str, ...], min_number_digits: int) -> list[str]:
        """The step's values of these kinds, memoised: flow and grounding rules ask the same question."""
        key = (arguments, kinds, min_number_digits)
        if self._kept is None:
            self._kept = {}
        elif key in self._kept:
            return self._kept[key]
        found = self._kept[key] = keep(self.values(arguments), kinds, min_number_digits)
        return found

    def values(self, arguments: bool) -> frozenset[str]:
        if arguments:
            if self._args is None:
                self._args = step_values(self.step, arguments=True)
            return self._args
        if self._said is None:
            self._said = step_values(self.step, arguments=False)
        return self._said


@dataclass
class Verdict:
    contract: str
    digest: str
    status: str  # pass | fail | inconclusive
    first_violating_step: int | None = None
    evidence: list[Evidence] = field(default_factory=list)
    steps_checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"contract": self.contract, "digest": self.digest, "status": self.status,
                "first_violating_step": self.first_violating_step, "evidence": self.evidence,
                "steps_checked": self.steps_checked}


@dataclass
class Contract:
    name: str
    description: str
    severity: str
    runtime: bool
    rules: list[Rule]
    digest: str
    source: str

    def start(self) -> ContractState:
        """Fresh checking state: JSON-able, so a live episode's state can be stored between batches."""
        return {"r": [r.start() for r in self.rules], "v": [None] * len(self.rules), "last": -1, "n": 0}

    def feed(self, state: ContractState, step: Step, ctx: StepContext | None = None) -> bool:
        """Feeds one step (in index order). Returns True when a rule failed on this step."""
        ctx = ctx or StepContext(step)
        state["n"] += 1
        state["last"] = step["index"]
        found = False
        violations = state["v"]
        states = state["r"]
        for i, rule in enumerate(self.rules):
            if violations[i] is None:
                hit = rule.feed(states[i], step, ctx)
                if hit is not None:
                    violations[i] = [hit[0], hit[1], hit[2]]
                    found = True
        return found

    def failed(self, state: ContractState) -> bool:
        return any(v is not None for v in state["v"])

    def finish(self, state: ContractState, *, ended: bool) -> Verdict:
        evidence: list[Evidence] = []
        statuses: list[str] = []
        for rule, st, hit in zip(self.rules, state["r"], state["v"], strict=True):
            if hit is None:
                outcome = rule.finish(st, state["last"], ended)
                if isinstance(outcome, str):
                    statuses.append(outcome)
                    continue
                hit = list(outcome)
            statuses.append(FAIL)
            evidence.append({"rule": rule.name, "operator": rule.operator, "step": hit[0],
                             "steps": sorted(set(hit[1])), "message": hit[2]})
        if evidence:
            evidence.sort(key=lambda e: (e["step"], e["rule"]))
            status, first = FAIL, evidence[0]["step"]
        else:
            status = INCONCLUSIVE if (not ended or INCONCLUSIVE in statuses) else PASS
            first = None
        return Verdict(self.name, self.digest, status, first, evidence, state["n"])


# A live rule in the checker's hot loop: its feed, its state, its contract's violations, its position
# in them, its contract's position and the step kinds it listens to.
_Entry = tuple[Callable[[RuleState, Step, StepValues], Violation | None], RuleState, list[StoredViolation | None],
               int, int, frozenset[str] | None]


class Checker:
    """Runs several contracts over one trace in a single pass, step by step.

    Rules that already failed are dropped from the hot loop; per-step value extraction is shared.
    `states` may come from an earlier batch (see Contract.start) so a live episode is never re-read.
    """

    def __init__(self, contracts: list[Contract], states: list[ContractState] | None = None):
        self.contracts = contracts
        self.states = states if states is not None else [c.start() for c in contracts]
        self.seen = 0
        self.last = max((s["last"] for s in self.states), default=-1)
        self._active: list[_Entry] = [
            (rule.feed, state["r"][j], state["v"], j, k, rule.kinds)
            for k, (contract, state) in enumerate(zip(contracts, self.states, strict=True))
            for j, rule in enumerate(contract.rules)
            if state["v"][j] is None
        ]
        self._by_kind: dict[str | None, list[_Entry]] = {}

    def _for_kind(self, kind: str | None) -> list[_Entry]:
        """The live rules a step of this kind can affect (rules only interested in other kinds skip it)."""
        entries = self._by_kind.get(kind)
        if entries is None:
            entries = self._by_kind[kind] = [e for e in self._active if e[5] is None or kind in e[5]]
        return entries

    def feed(self, step: Step) -> set[int]:
        """Feeds one step; returns the positions of the contracts that failed on it."""
        ctx = StepContext(step)
        failed: set[int] = set()
        for feed, st, violations, j, k, _kinds in self._for_kind(step.get("kind")):
            hit = feed(st, step, ctx)
            if hit is not None:
                violations[j] = [hit[0], hit[1], hit[2]]
                failed.add(k)
        if failed:
            self._active = [e for e in self._active if e[2][e[3]] is None]
            self._by_kind = {}
        self.seen += 1
        self.last = step["index"]
        return failed

    def sync(self) -> list[ContractState]:
        """Writes the step counters into the states (before storing them or finishing)."""
        for state in self.states:
            state["n"] += self.seen
            state["last"] = max(state["last"], self.last)
        self.seen = 0
        return self.states

    def finish(self, *, ended: bool) -> list[Verdict]:
        self.sync()
        return [c.finish(s, ended=ended) for c, s in zip(self.contracts, self.states, strict=True)]


def check(contract: Contract, steps: Iterable[Step], *, ended: bool = True) -> Verdict:
    return check_many([contract], steps, ended=ended)[0]


def check_many(contracts: list[Contract], steps: Iterable[Step], *, ended: bool = True) -> list[Verdict]:
    """One pass over the trace for all contracts."""
    checker = Checker(contracts)
    for step in steps:
        checker.feed(step)
    return checker.finish(ended=ended)
