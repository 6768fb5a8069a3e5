"""Step contracts and temporal trace operators as small incremental state machines.

Each rule keeps its state in a plain JSON-able dict so a live episode's checking state can be
stored between batches. `feed` sees every step once (O(1) per step) and returns a violation
`(first violating index, evidence step indexes, message)` or None; `finish` decides what is
left when the trace ends (or is still running).
"""

from collections.abc import Callable
from typing import Any, Protocol

from apps.contracts.engine.predicates import Pred, Step

Violation = tuple[int, list[int], str]
RuleState = dict[str, Any]  # JSON-able, stored with a live episode between batches
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


class StepValues(Protocol):
    """The values of the step being fed, shared by every rule that asks (contract.StepContext)."""

    def kept(self, arguments: bool, kinds: tuple[str, ...], min_number_digits: int) -> list[str]: ...


class Rule:
    operator = ""
    # Step kinds that can change this rule's state (None: every step). Set by the compiler.
    kinds: frozenset[str] | None = None

    def __init__(self, name: str, message: str):
        self.name = name
        self.message = message

    def start(self) -> RuleState:
        return {}

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        """After the last fed step: PASS, INCONCLUSIVE or a violation found only at the end."""
        return PASS if ended else INCONCLUSIVE

    def _msg(self, default: str) -> str:
        return self.message or default


class Never(Rule):
    operator = "never"

    def __init__(self, name: str, message: str, pred: Pred):
        super().__init__(name, message)
        self.pred = pred

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        if self.pred(step):
            i = step["index"]
            return i, [i], self._msg("a forbidden step happened")
        return None


class Always(Rule):
    operator = "always"

    def __init__(self, name: str, message: str, pred: Pred, where: Pred):
        super().__init__(name, message)
        self.pred, self.where = pred, where

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        if self.where(step) and not self.pred(step):
            i = step["index"]
            return i, [i], self._msg("a step broke an invariant")
        return None


class Eventually(Rule):
    operator = "eventually"

    def __init__(self, name: str, message: str, pred: Pred):
        super().__init__(name, message)
        self.pred = pred

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        if "at" not in st and self.pred(step):
            st["at"] = step["index"]
        return None

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        if "at" in st:
            return PASS
        if ended and last >= 0:
            return last, [], self._msg("the expected step never happened")
        return INCONCLUSIVE


class Precedes(Rule):
    """Every `then` step needs an earlier `first` step."""

    operator = "precedes"

    def __init__(self, name: str, message: str, first: Pred, then: Pred):
        super().__init__(name, message)
        self.first, self.then = first, then

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        if "a" not in st and self.then(step):
            return i, [i], self._msg("a step happened before what must precede it")
        if "a" not in st and self.first(step):
            st["a"] = i
        return None


class MustNotFollow(Rule):
    """No `then` step after a `first` step."""

    operator = "must_not_follow"

    def __init__(self, name: str, message: str, first: Pred, then: Pred):
        super().__init__(name, message)
        self.first, self.then = first, then

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        a = st.get("a")
        if a is not None and self.then(step):
            return i, [a, i], self._msg("a forbidden step followed")
        if a is None and self.first(step):
            st["a"] = i
        return None


class Within(Rule):
    """After each `after` step an `expect` step within `steps` indexes."""

    operator = "within"

    def __init__(self, name: str, message: str, after: Pred, expect: Pred, steps: int):
        super().__init__(name, message)
        self.after, self.expect, self.steps = after, expect, steps

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        pending = st.get("p")
        if pending is not None and i - pending > self.steps:
            return i, [pending, i], self._msg(f"no expected step within {self.steps} steps")
        if pending is not None and self.expect(step):
            st["p"] = pending = None
        if pending is None and self.after(step):
            st["p"] = i
        return None

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        pending = st.get("p")
        if pending is None:
            return PASS if ended else INCONCLUSIVE
        if ended:
            return last, [pending, last], self._msg(f"the episode ended without the expected step within {self.steps} steps")
        return INCONCLUSIVE


class AtMost(Rule):
    operator = "at_most"

    def __init__(self, name: str, message: str, pred: Pred, count: int):
        super().__init__(name, message)
        self.pred, self.count = pred, count

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        if self.pred(step):
            seen = st.setdefault("i", [])
            seen.append(step["index"])
            if len(seen) > self.count:
                return step["index"], list(seen), self._msg(f"more than {self.count} matching steps")
        return None


class Pre(Rule):
    """Preconditions on an action: its own fields and what the episode did before it."""

    operator = "pre"

    def __init__(self, name: str, message: str, on: Pred, require: Pred | None,
                 after: Pred | None, not_after: Pred | None):
        super().__init__(name, message)
        self.on, self.require, self.after, self.not_after = on, require, after, not_after

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        i = step["index"]
        if self.on(step):
            if self.require is not None and not self.require(step):
                return i, [i], self._msg("precondition failed on the step's arguments")
            if self.after is not None and "a" not in st:
                return i, [i], self._msg("a required earlier step is missing")
            if self.not_after is not None and "n" in st:
                return i, [st["n"], i], self._msg("the step follows one that forbids it")
        if self.after is not None and "a" not in st and self.after(step):
            st["a"] = i
        if self.not_after is not None and "n" not in st and self.not_after(step):
            st["n"] = i
        return None


# Verdicts after which a governed call does not run (an `ask` may still run once approved).
STOPPED = frozenset(("block", "terminate"))


class Post(Rule):
    """Postconditions on what an action observed: on the action's own result, or on the next observation."""

    operator = "post"

    def __init__(self, name: str, message: str, on: Pred, no_error: bool,
                 schema: Callable[[Any], str | None] | None, result: Pred | None):
        super().__init__(name, message)
        self.on, self.no_error, self.schema, self.result = on, no_error, schema, result

    def _check(self, obs: Step, action: int) -> Violation | None:
        i = obs["index"]
        ev = [action, i] if action != i else [i]
        if self.no_error and obs.get("error"):
            return i, ev, self._msg(f"the observation is an error: {str(obs.get('error'))[:200]}")
        if self.schema is not None:
            problem = self.schema(obs.get("result"))
            if problem:
                return i, ev, self._msg(f"the result does not match the schema: {problem}")
        if self.result is not None and not self.result(obs):
            return i, ev, self._msg("the result is out of bounds")
        return None

    def feed(self, st: RuleState, step: Step, ctx: StepValues) -> Violation | None:
        pending = st.get("p")
        if step.get("kind") == "decision":
            # Governance's verdict on a call, not what the call observed: never checked as a result.
            # A call it stopped never runs, so no observation of it is awaited any more.
            if pending is not None and (step.get("attributes") or {}).get("verdict") in STOPPED and (
                    not step.get("tool") or step.get("tool") == pending[1]):
                st["p"] = None
            return None
        if pending is not None and step.get("kind") == "observation" and (
                not step.get("tool") or step.get("tool") == pending[1]):
            st["p"] = None
            found = self._check(step, pending[0])
            if found:
                return found
        if self.on(step):
            if step.get("kind") == "action" and step.get("result") is None and not step.get("error"):
                st["p"] = [step["index"], step.get("tool") or ""]
                return None
            return self._check(step, step["index"])
        return None

    def finish(self, st: RuleState, last: int, ended: bool) -> Violation | str:
        if st.get("p") is not None:
            return INCONCLUSIVE
        return PASS if ended else INCONCLUSIVE
