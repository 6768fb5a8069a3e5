"""Whole-trace rules: termination budgets, role drift, information flow and grounding."""

import fnmatch
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.contracts.engine.predicates import Pred, Step
from apps.contracts.engine.rules import INCONCLUSIVE, PASS, Rule, RuleState, StepValues, Violation


def _seconds(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _float(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class Termination(Rule):
    """The episode ends within budgets of steps, tokens, cost and wall time, with a final answer."""

    operator = "termination"

    def __init__(self, name: str, message: str, *, max_steps: int | None, max_tokens: int | None,
                 max_cost: float | None, max_seconds: float | None, final_answer: Pred | None):
        super().__init__(name, message)
        self.max_steps, self.max_tokens, self.max_cost = max_steps, max_tokens, max_cost
        self.max_seconds, self.final_answer = max_seconds, final_answer

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        if self.max_steps is not None:
            st["n"] = n = st.get("n", 0) + 1
            if n > self.max_steps:
                return i, [i], self._msg(f"more than {self.max_steps} steps")
        if self.max_tokens is not None:
            st["t"] = t = st.get("t", 0) + (step.get("tokens_in") or 0) + (step.get("tokens_out") or 0)
            if t > self.max_tokens:
                return i, [i], self._msg(f"{t} tokens used, budget {self.max_tokens}")
        if self.max_cost is not None:
            st["c"] = c = st.get("c", 0.0) + _float(step.get("cost"))
            if c > self.max_cost:
                return i, [i], self._msg(f"cost {c:.4f} over budget {self.max_cost:g}")
        if self.max_seconds is not None:
            begin = _seconds(step.get("started_at"))
            end = _seconds(step.get("ended_at")) or begin
            if "s" not in st and begin is not None:
                st["s"] = begin
            if end is not None and "s" in st and end - st["s"] > self.max_seconds:
                return i, [i], self._msg(f"ran {end - st['s']:.1f}s, budget {self.max_seconds:g}s")
        if self.final_answer is not None:
            st["f"] = i if self.final_answer(step) else None
        return None

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        if self.final_answer is None:
            return PASS if ended else INCONCLUSIVE
        if not ended:
            return INCONCLUSIVE
        if st.get("f") is None or st.get("f") != last:
            return max(last, 0), [last] if last >= 0 else [], self._msg("the episode did not end with a final answer")
        return PASS


class Role(Rule):
    """Role drift: an agent calls a tool outside its declared capabilities."""

    operator = "role"

    def __init__(self, name: str, message: str, capabilities: dict[str, list[str]], on: Pred, strict: bool):
        super().__init__(name, message)
        self.on, self.strict = on, strict
        self._exact = {a: [re.compile(fnmatch.translate(t)) for t in tools]
                       for a, tools in capabilities.items() if not any(c in a for c in "*?[")}
        self._globs = [(re.compile(fnmatch.translate(a)), [re.compile(fnmatch.translate(t)) for t in tools])
                       for a, tools in capabilities.items() if any(c in a for c in "*?[")]

    def _allowed(self, agent: str) -> list[re.Pattern[str]] | None:
        if agent in self._exact:
            return self._exact[agent]
        for rx, tools in self._globs:
            if rx.match(agent):
                return tools
        return None

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        if not self.on(step):
            return None
        agent, tool = step.get("agent") or "", step.get("tool") or ""
        allowed = self._allowed(agent)
        if allowed is None:
            if self.strict:
                return step["index"], [step["index"]], self._msg(f"agent '{agent}' has no declared capabilities")
            return None
        if not any(rx.match(tool) for rx in allowed):
            return step["index"], [step["index"]], self._msg(f"agent '{agent}' used '{tool}' outside its capabilities")
        return None


class Flow(Rule):
    """A value first seen in an untrusted observation reaches the arguments of a sensitive tool."""

    operator = "flow"

    def __init__(self, name: str, message: str, *, sources: Pred, trusted: Pred, sinks: Pred,
                 kinds: list[str], min_number_digits: int):
        super().__init__(name, message)
        self.sources, self.trusted, self.sinks = sources, trusted, sinks
        self.value_kinds, self.digits = tuple(kinds), min_number_digits

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        if self.sinks(step):
            tainted = st.get("u")
            if tainted:
                hits = [v for v in ctx.kept(True, self.value_kinds, self.digits) if v in tainted]
                if hits:
                    hits.sort()
                    origin = sorted({tainted[v] for v in hits})
                    return i, [*origin, i], self._msg(
                        f"untrusted value {hits[0].split(':', 1)[1]} reached '{step.get('tool')}'")
            return None
        if self.sources(step):
            trusted = st.get("t", {})
            tainted = st.setdefault("u", {})
            for v in ctx.kept(False, self.value_kinds, self.digits):
                if v not in trusted and v not in tainted:
                    tainted[v] = i
        elif self.trusted(step):
            trusted = st.setdefault("t", {})
            tainted = st.get("u", {})
            for v in ctx.kept(False, self.value_kinds, self.digits):
                if v not in tainted and v not in trusted:
                    trusted[v] = i
        return None


class Grounding(Rule):
    """Values in the final answer must have appeared in an earlier observation (or the user's words)."""

    operator = "grounding"

    def __init__(self, name: str, message: str, *, sources: Pred, answer: Pred, kinds: list[str],
                 min_number_digits: int):
        super().__init__(name, message)
        self.sources, self.answer = sources, answer
        self.value_kinds, self.digits = tuple(kinds), min_number_digits

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        if self.answer(step):
            seen = st.get("s", {})
            st["a"] = i
            st["x"] = sorted(v for v in ctx.kept(False, self.value_kinds, self.digits) if v not in seen)
        elif self.sources(step):
            seen = st.setdefault("s", {})
            for v in ctx.kept(False, self.value_kinds, self.digits):
                if v not in seen:
                    seen[v] = i
        return None

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        if not ended or "a" not in st:
            return INCONCLUSIVE
        missing = st.get("x") or []
        if missing:
            shown = ", ".join(v.split(":", 1)[1] for v in missing[:5])
            return st["a"], [st["a"]], self._msg(f"unsupported values in the final answer: {shown}")
        return PASS
