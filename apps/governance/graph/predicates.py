"""Evidence predicates: `violations.severe >= 1 within 10 steps`, `metric.collusion_tier >= 3 for 2 rounds`.

    expr := conj ("or" conj)*         conj := atom ("and" atom)*
    atom := METRIC OP NUMBER ["within" N "steps"] ["for" K "rounds"]

A round is one ended episode of the agent; evidence rounds come newest first. `within N steps`
counts marked events in the densest window of N consecutive steps of a round; `for K rounds`
needs the atom to hold in each of the agent's last K rounds. Pure Python, no Django.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Round = Mapping[str, Any]
"""One evidence round of an agent, as stored (JSON): {"values": {metric: number},
"marks": {metric: [step index, ...]}}."""

COUNT_METRICS = {
    "violations.total", "violations.low", "violations.medium", "violations.high", "violations.critical",
    "violations.severe", "decisions.total", "decisions.allowed", "decisions.blocked", "decisions.rewritten",
    "decisions.asked", "decisions.terminated", "forbidden.repeats", "steps",
}
RATE_METRICS = {"block_rate"}
ALIASES = {"collusion_tier": "metric.collusion_tier"}
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_ATOM = re.compile(
    r"^(?P<metric>[a-z_][a-z0-9_.]*)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>-?\d+(?:\.\d+)?)"
    r"(?:\s+within\s+(?P<within>\d+)\s+steps?)?(?:\s+for\s+(?P<rounds>\d+)\s+rounds?)?$"
)


class PredicateError(ValueError):
    pass


@dataclass(frozen=True)
class Atom:
    metric: str
    op: str
    value: float
    within: int | None = None
    rounds: int = 1

    def value_in(self, round_: Round) -> float | None:
        if self.within is not None:
            return densest_window(round_.get("marks", {}).get(self.metric, []), self.within)
        value: float | None = round_.get("values", {}).get(self.metric)
        if value is None and self.metric in COUNT_METRICS:
            return 0
        return value

    def holds(self, history: Sequence[Round]) -> bool:
        if len(history) < self.rounds:
            return False
        for round_ in history[: self.rounds]:
            value = self.value_in(round_)
            if value is None or not OPS[self.op](value, self.value):
                return False
        return True

    def __str__(self) -> str:
        text = f"{self.metric} {self.op} {self.value:g}"
        if self.within is not None:
            text += f" within {self.within} steps"
        if self.rounds != 1:
            text += f" for {self.rounds} rounds"
        return text


@dataclass(frozen=True)
class Expr:
    """An OR of ANDs of atoms (the grammar has no parentheses, so it is already in DNF)."""

    clauses: tuple[tuple[Atom, ...], ...]
    source: str

    def holds(self, history: Sequence[Round]) -> bool:
        return any(all(atom.holds(history) for atom in clause) for clause in self.clauses)

    def __str__(self) -> str:
        return self.source


def densest_window(indices: Sequence[int], width: int) -> int:
    """The most marks falling within any `width` consecutive step indices."""
    marks = sorted(indices)
    best, start = 0, 0
    for end, index in enumerate(marks):
        while index - marks[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


def known_metric(metric: str) -> bool:
    return metric in COUNT_METRICS or metric in RATE_METRICS or (
        metric.startswith("metric.") and len(metric) > len("metric.")
    )


def parse(source: str) -> Expr:
    text = " ".join(str(source).split())
    if not text:
        raise PredicateError("empty condition")
    clauses = []
    for part in re.split(r"\s+or\s+", text):
        atoms = []
        for piece in re.split(r"\s+and\s+", part):
            match = _ATOM.match(piece.strip())
            if not match:
                raise PredicateError(
                    f"cannot read {piece.strip()!r}: expected e.g. 'violations.severe >= 1 within 10 steps'"
                )
            metric = ALIASES.get(match["metric"], match["metric"])
            if not known_metric(metric):
                raise PredicateError(f"unknown metric {match['metric']!r}")
            within = int(match["within"]) if match["within"] else None
            if within is not None and (metric not in COUNT_METRICS or metric == "steps"):
                raise PredicateError(f"'within N steps' only applies to event counts, not {metric!r}")
            if within == 0:
                raise PredicateError("'within 0 steps' never holds")
            rounds = int(match["rounds"]) if match["rounds"] else 1
            if rounds < 1:
                raise PredicateError("'for 0 rounds' never holds")
            atoms.append(Atom(metric, match["op"], float(match["value"]), within, rounds))
        clauses.append(tuple(atoms))
    return Expr(tuple(clauses), text)


# --- satisfiability, for "transitions that can fire together" -------------------------------

@dataclass
class _Range:
    lo: float = -math.inf
    lo_incl: bool = True
    hi: float = math.inf
    hi_incl: bool = True

    def cut(self, op: str, value: float, integer: bool) -> None:
        if integer:  # x > 2.5 -> x >= 3, x < 1 -> x <= 0, x == 1.5 -> nothing
            if op == ">":
                op, value = ">=", math.floor(value) + 1
            elif op == ">=":
                value = math.ceil(value)
            elif op == "<":
                op, value = "<=", math.ceil(value) - 1
            elif op == "<=":
                value = math.floor(value)
            elif op == "==" and value != int(value):
                self.lo, self.hi = 1, 0
                return
        if op in (">", ">=") and (value > self.lo or (value == self.lo and op == ">")):
            self.lo, self.lo_incl = value, op == ">="
        elif op in ("<", "<=") and (value < self.hi or (value == self.hi and op == "<")):
            self.hi, self.hi_incl = value, op == "<="
        elif op == "==":
            self.cut(">=", value, integer)
            self.cut("<=", value, integer)

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_incl and self.hi_incl))


def satisfiable(atoms: Sequence[Atom]) -> bool:
    """False only when the atoms provably cannot hold in the same (latest) round.

    Every atom constrains the latest round whatever its `for K rounds`, so a metric (and window)
    is one variable. Counts are non-negative integers, rates lie in [0, 1], and a round with no
    violations (no blocks) has none of any severity (no block rate, no repeats) either.
    """
    ranges: dict[tuple[str, int | None], _Range] = {}
    for atom in atoms:
        key = (atom.metric, atom.within)
        rng = ranges.setdefault(key, _initial_range(atom.metric))
        if atom.op != "!=":
            rng.cut(atom.op, atom.value, atom.metric in COUNT_METRICS)
    # A count within a window never exceeds the same count over the whole round.
    for (metric, within), rng in list(ranges.items()):
        if within is not None:
            whole = ranges.setdefault((metric, None), _initial_range(metric))
            if whole.hi < math.inf:
                rng.cut("<=", whole.hi, True)
            if rng.lo > 0:
                whole.cut(">=", rng.lo, True)
    for (metric, within), rng in list(ranges.items()):
        if within is None and rng.hi == 0 and metric in ("violations.total", "decisions.blocked"):
            family = ("violations.",) if metric == "violations.total" else ("decisions.blocked", "block_rate", "forbidden.")
            for (other, w), other_rng in ranges.items():
                if other.startswith(family) and (other, w) != (metric, within):
                    other_rng.cut("<=", 0, False)
    return not any(rng.empty() for rng in ranges.values())


def _initial_range(metric: str) -> _Range:
    if metric in COUNT_METRICS:
        return _Range(lo=0)
    if metric in RATE_METRICS:
        return _Range(lo=0, hi=1)
    return _Range()


def can_hold_together(a: Expr, b: Expr, extra_b: Sequence[Atom] = ()) -> bool:
    return any(satisfiable([*ca, *cb, *extra_b]) for ca in a.clauses for cb in (b.clauses or ((),)))
