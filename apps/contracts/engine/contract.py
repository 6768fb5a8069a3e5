"""A compiled contract and the incremental checker that runs many contracts over one trace."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.contracts.engine.rules import FAIL, INCONCLUSIVE, PASS, Rule
from apps.contracts.engine.values import step_values


class StepContext:
    """Per-step work shared by every contract checking the step (value extraction is the costly part)."""

    __slots__ = ("step", "_said", "_args")

    def __init__(self, step: dict):
        self.step = step
        self._said = None
        self._args = None

    def values(self, arguments: bool) -> frozenset:
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
    evidence: list[dict] = field(default_factory=list)
    steps_checked: int = 0

    def as_dict(self) -> dict:
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

    def start(self) -> dict:
        """Fresh checking state: JSON-able, so a live episode's state can be stored between batches."""
        return {"r": [r.start() for r in self.rules], "v": [None] * len(self.rules), "last": -1, "n": 0}

    def feed(self, state: dict, step: dict, ctx: StepContext | None = None) -> bool:
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

    def failed(self, state: dict) -> bool:
        return any(v is not None for v in state["v"])

    def finish(self, state: dict, *, ended: bool) -> Verdict:
        evidence, statuses = [], []
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


def check(contract: Contract, steps: Iterable[dict], *, ended: bool = True) -> Verdict:
    state = contract.start()
    for step in steps:
        contract.feed(state, step)
    return contract.finish(state, ended=ended)


def check_many(contracts: list[Contract], steps: Iterable[dict], *, ended: bool = True) -> list[Verdict]:
    """One pass over the trace for all contracts; per-step value extraction is shared between them."""
    states = [c.start() for c in contracts]
    pairs = list(zip(contracts, states, strict=True))
    for step in steps:
        ctx = StepContext(step)
        for contract, state in pairs:
            contract.feed(state, step, ctx)
    return [c.finish(s, ended=ended) for c, s in pairs]
