"""Interpreting a compiled graph: which transition fires, which tier decays, what sanctions mean.

Pure functions over plain data so the Controller stays a thin transactional shell.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict

from apps.governance.graph.manifest import ArgBounds, Graph, Transition
from apps.governance.graph.predicates import Round


class Effect(TypedDict):
    """What an agent's active sanctions mean for /decide."""

    suspended: bool
    revoked_tools: list[str]  # tool names or globs
    arg_bounds: dict[str, dict[str, ArgBounds]]  # {tool glob: {argument: bounds}}


def is_clean(round_: Round) -> bool:
    """A clean round: the agent drew no violation and no blocked call."""
    values = round_.get("values", {})
    return not values.get("violations.total") and not values.get("decisions.blocked")


def next_transition(graph: Graph, *, state: str, history: Sequence[Round], clean_streak: int) -> Transition | None:
    """The first automatic transition (in manifest order) out of `state` whose trigger holds.

    history: the agent's evidence rounds, newest first. clean_streak: consecutive clean rounds
    since the agent entered `state`.
    """
    for transition in graph.transitions:
        if state not in transition.sources:
            continue
        if transition.kind == "when" and transition.expr is not None and transition.expr.holds(history):
            return transition
        if (transition.kind == "clean" and transition.clean_rounds is not None
                and clean_streak >= transition.clean_rounds):
            return transition
    return None


def reviewer_targets(graph: Graph, *, state: str | None) -> list[str]:
    """States a reviewer may move an agent to from `state` (the graph's `by: reviewer` paths)."""
    return [t.target for t in graph.transitions if t.kind == "reviewer" and state in t.sources]


def renews(graph: Graph, *, state: str, round_: Round) -> bool:
    """Whether this round's evidence renews a decaying tier (default: a clean round)."""
    decay = graph.states[state].decay
    if decay is None:
        return False
    if decay.renew_when is None:
        return is_clean(round_)
    return decay.renew_when.holds([round_])


def decay_target(graph: Graph, *, state: str, since: datetime, now: datetime) -> str | None:
    decay = graph.states[state].decay if state in graph.states else None
    if decay and now - since >= timedelta(seconds=decay.after_seconds):
        return decay.to
    return None


_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def merge_bounds(into: ArgBounds, bounds: Mapping[str, Any]) -> ArgBounds:
    """Merges JSON-Schema-like argument bounds keeping the tighter of each."""
    for key, value in bounds.items():
        if key not in into:
            into[key] = value
        elif key in _LOWER:
            into[key] = max(into[key], value)
        elif key in _UPPER:
            into[key] = min(into[key], value)
        elif key == "enum" and isinstance(value, list) and isinstance(into[key], list):
            into[key] = [v for v in into[key] if v in value]
        else:
            into[key] = value
    return into


def effect(sanctions: Iterable[Mapping[str, Any]]) -> Effect:
    """What a set of active sanctions means for /decide.

    Each sanction: {"kind": suspend|revoke|tighten|fine, "tool": glob, "arguments": {arg: bounds}}.
    """
    suspended = False
    revoked: list[str] = []
    bounds: dict[str, dict[str, ArgBounds]] = {}
    for sanction in sanctions:
        kind = sanction["kind"]
        if kind == "suspend":
            suspended = True
        elif kind == "revoke" and sanction["tool"] not in revoked:
            revoked.append(sanction["tool"])
        elif kind == "tighten":
            tool_bounds = bounds.setdefault(sanction["tool"], {})
            for arg, arg_bounds in sanction.get("arguments", {}).items():
                merge_bounds(tool_bounds.setdefault(arg, {}), arg_bounds)
    return {"suspended": suspended, "revoked_tools": sorted(revoked), "arg_bounds": bounds}
