"""Conditions on the episode context (`if:` of a rule), compiled to closures once per version.

    if:
      all:
        - untrusted: false              # no untrusted content read in this episode so far
        - calls: {tool: send_money, max: 3}   # counts include the call being decided
        - steps: {max: 200}
        - agent: ["planner", "bank-*"]
        - state: [good_standing]        # the agent's governance state
        - environment: prod*
        - time: {after: "08:00", before: "18:00", days: [mon, tue, wed, thu, fri], tz: Europe/London}
        - not: {untrusted: true}
        - untrusted: {source: [web, email]}   # untrusted content from one of these sources was read
        - not: {tainted: [url, body]}    # a value in these arguments came only from untrusted content
        - not: {tainted: {args: ["*"], kinds: [url, email], sources: [web]}}
        - asked: [delete, remove]        # one of these words is in the user's own messages
      any: [...]
A mapping with several keys means all of them; a list means all of its items.
`tainted`, `asked` and `untrusted: {source}` read the episode's provenance index (provenance.py); the value
they matched and the step it came from become the verdict's evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time, tzinfo
from fnmatch import fnmatchcase, translate
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apps.policies.engine import provenance, values
from apps.policies.engine.findings import Finding, first_untrusted
from apps.policies.engine.policy import Call, Condition, Context, Explain
from apps.policies.engine.source import Issue, Path

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
KEYS = ("all", "any", "not", "untrusted", "tainted", "asked", "calls", "steps", "agent", "state", "environment", "time")
TAINT_KINDS = tuple(k for k in values.KINDS if k != "word")  # words are indexed for trusted content only


class ConditionCompiler:
    def __init__(self, issues: list[Issue], line: Callable[[Path], int | None], rule: str | None):
        self.issues = issues
        self.line = line
        self.rule = rule
        self.explainers: list[Explain] = []
        self.reads_provenance = False  # a condition compiled so far asks the episode's index

    def explainer(self) -> Explain | None:
        """The provenance evidence of the compiled conditions: the first finding any of them has."""
        found = tuple(self.explainers)
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        return lambda call, ctx: next((f for e in found if (f := e(call, ctx)) is not None), None)

    def fail(self, message: str, path: Path) -> None:
        self.issues.append(Issue(message, path, self.line(path), self.rule))

    def compile(self, value: Any, path: Path) -> Condition:
        if isinstance(value, list):
            return _all([self.compile(v, path + (i,)) for i, v in enumerate(value)])
        if not isinstance(value, dict) or not value:
            self.fail("a condition is a mapping such as {untrusted: false} or a list of them", path)
            return _true
        parts = []
        for key, arg in value.items():
            at = path + (key,)
            method = getattr(self, f"_{key}", None) if key in KEYS else None
            if method is None:
                self.fail(f"unknown condition '{key}'; use one of {', '.join(KEYS)}", at)
                continue
            parts.append(method(arg, at))
        return _all(parts)

    def _all(self, arg: Any, path: Path) -> Condition:
        if not isinstance(arg, list) or not arg:
            self.fail("'all' takes a non-empty list of conditions", path)
            return _true
        return _all([self.compile(v, path + (i,)) for i, v in enumerate(arg)])

    def _any(self, arg: Any, path: Path) -> Condition:
        if not isinstance(arg, list) or not arg:
            self.fail("'any' takes a non-empty list of conditions", path)
            return _true
        parts = [self.compile(v, path + (i,)) for i, v in enumerate(arg)]
        return lambda call, ctx: any(p(call, ctx) for p in parts)

    def _not(self, arg: Any, path: Path) -> Condition:
        inner = self.compile(arg, path)
        return lambda call, ctx: not inner(call, ctx)

    def _untrusted(self, arg: Any, path: Path) -> Condition:
        if isinstance(arg, dict) and arg.keys() == {"source"}:
            return self._untrusted_source(arg["source"], path + ("source",))
        if not isinstance(arg, bool):
            self.fail("'untrusted' is true, false or {source: [web, email, ...]}", path)
            return _true
        return lambda call, ctx: ctx.untrusted is arg

    def _untrusted_source(self, arg: Any, path: Path) -> Condition:
        sources = self._strings(arg, path, "a source such as web, or a list of them")
        self.reads_provenance = True

        def seen(call: Call, ctx: Context) -> Finding | None:
            if ctx.provenance is None:
                return None
            read = ctx.provenance.untrusted_sources()
            for source in sources:
                if source in read:
                    return Finding("untrusted", source, "source", read[source], source, provenance.UNTRUSTED)
            return None

        self.explainers.append(seen)
        return lambda call, ctx: seen(call, ctx) is not None

    def _tainted(self, arg: Any, path: Path) -> Condition:
        spec = {"args": arg} if isinstance(arg, list | str) else arg
        if not isinstance(spec, dict) or "args" not in spec:
            self.fail("'tainted' lists arguments, e.g. [url, body], or is {args, kinds, sources}", path)
            return _true
        for key in spec:
            if key not in ("args", "kinds", "sources"):
                self.fail(f"unknown key '{key}'; use args, kinds, sources", path + (key,))
        names = self._strings(spec["args"], path + ("args",), "argument names (or '*' for all)")
        kinds = set(TAINT_KINDS)
        if "kinds" in spec:
            kinds = set(self._strings(spec["kinds"], path + ("kinds",), f"kinds among {', '.join(TAINT_KINDS)}"))
            for kind in kinds - set(TAINT_KINDS):
                self.fail(f"unknown kind '{kind}'; use {', '.join(TAINT_KINDS)}", path + ("kinds",))
        sources = set(self._strings(spec["sources"], path + ("sources",), "sources")) if "sources" in spec else None
        every = "*" in names
        self.reads_provenance = True
        all_kinds = kinds == set(TAINT_KINDS)  # found values are never words: nothing to filter out

        def finding(call: Call, ctx: Context) -> Finding | None:
            if ctx.provenance is None:
                return None
            for name in (call.arguments if every else names):
                if name in call.arguments:
                    found = values.values_of(call.arguments[name])
                    if not all_kinds:
                        found = [f for f in found if f.kind in kinds]
                    hit = first_untrusted(found, ctx.provenance, sources, name)
                    if hit is not None:
                        return hit
            return None

        self.explainers.append(finding)
        return lambda call, ctx: finding(call, ctx) is not None

    def _asked(self, arg: Any, path: Path) -> Condition:
        words = self._strings(arg, path, "the words a user's request must contain, e.g. [delete, remove]")
        self.reads_provenance = True
        keys = []
        for word in words:
            found = list(values.words_in(word))
            if len(found) != 1:
                self.fail(f"'{word}' is not one word", path)
            keys += [provenance.USER_PREFIX + f.value for f in found]

        def asked(call: Call, ctx: Context) -> bool:
            return ctx.provenance is not None and bool(ctx.provenance.origins(keys))

        return asked

    def _strings(self, arg: Any, path: Path, what: str) -> tuple[str, ...]:
        items = [arg] if isinstance(arg, str) else arg
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
            self.fail(f"give {what}", path)
            return ()
        return tuple(items)

    def _range(self, arg: Any, path: Path, extra: tuple[str, ...] = ()) -> tuple[int | None, int | None]:
        if not isinstance(arg, dict) or not ({"min", "max"} & arg.keys()):
            self.fail("give a range such as {max: 3} or {min: 1, max: 5}", path)
            return None, None
        for key, value in arg.items():
            if key in ("min", "max"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    self.fail(f"'{key}' must be a whole number >= 0", path + (key,))
            elif key not in extra:
                self.fail(f"unknown key '{key}'; use min, max{''.join(', ' + e for e in extra)}", path + (key,))
        return arg.get("min"), arg.get("max")

    def _calls(self, arg: Any, path: Path) -> Condition:
        low, high = self._range(arg, path, ("tool",))
        pattern = arg.get("tool") if isinstance(arg, dict) else None
        if pattern is not None and not isinstance(pattern, str):
            self.fail("'tool' is a tool name or glob", path + ("tool",))
            pattern = None
        low = low if isinstance(low, int) else None
        high = high if isinstance(high, int) else None

        def check(call: Call, ctx: Context) -> bool:
            target = pattern or call.tool
            if any(c in target for c in "*?["):
                n = sum(v for k, v in ctx.counts.items() if fnmatchcase(k, target))
                n += 1 if fnmatchcase(call.tool, target) else 0
            else:
                n = ctx.counts.get(target, 0) + (1 if call.tool == target else 0)
            return (low is None or n >= low) and (high is None or n <= high)

        return check

    def _steps(self, arg: Any, path: Path) -> Condition:
        low, high = self._range(arg, path)
        low = low if isinstance(low, int) else None
        high = high if isinstance(high, int) else None
        return lambda call, ctx: (low is None or ctx.steps >= low) and (high is None or ctx.steps <= high)

    def _names(self, arg: Any, path: Path) -> re.Pattern[str] | None:
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.fail("give a name, a glob or a list of them", path)
            return None
        return re.compile("|".join(f"(?:{translate(n)})" for n in names))

    def _agent(self, arg: Any, path: Path) -> Condition:
        rx = self._names(arg, path)
        return (lambda call, ctx: rx.match(call.agent or "") is not None) if rx else _true

    def _environment(self, arg: Any, path: Path) -> Condition:
        rx = self._names(arg, path)
        return (lambda call, ctx: rx.match(ctx.environment or "") is not None) if rx else _true

    def _state(self, arg: Any, path: Path) -> Condition:
        rx = self._names(arg, path)
        return (lambda call, ctx: ctx.state is not None and rx.match(ctx.state) is not None) if rx else _true

    def _time(self, arg: Any, path: Path) -> Condition:
        if not isinstance(arg, dict) or not arg:
            self.fail("give a window such as {after: '09:00', before: '17:00', days: [mon, tue]}", path)
            return _true
        after = self._clock(arg.get("after"), path + ("after",))
        before = self._clock(arg.get("before"), path + ("before",))
        days = arg.get("days")
        day_set = None
        if days is not None:
            if not isinstance(days, list) or any(d not in DAYS for d in days):
                self.fail(f"'days' is a list of {', '.join(DAYS)}", path + ("days",))
            else:
                day_set = {DAYS.index(d) for d in days}
        zone: tzinfo = UTC
        if "tz" in arg:
            try:
                zone = ZoneInfo(str(arg["tz"]))
            except (ZoneInfoNotFoundError, ValueError):
                self.fail(f"unknown time zone '{arg['tz']}'", path + ("tz",))
        for key in arg:
            if key not in ("after", "before", "days", "tz"):
                self.fail(f"unknown key '{key}'; use after, before, days, tz", path + (key,))

        def check(call: Call, ctx: Context) -> bool:
            now = (ctx.now or datetime.now(UTC)).astimezone(zone)
            if day_set is not None and now.weekday() not in day_set:
                return False
            t = now.time()
            if after is not None and before is not None and after > before:  # window over midnight
                return t >= after or t < before
            return (after is None or t >= after) and (before is None or t < before)

        return check

    def _clock(self, value: Any, path: Path) -> time | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 09:00 as sexagesimal
            if value < 24 * 60:
                return time(value // 60 % 24, value % 60)
            self._bad_clock(path)
            return None
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            self._bad_clock(path)
            return None

    def _bad_clock(self, path: Path) -> None:
        self.fail("a time of day is 'HH:MM' (24-hour)", path)
        return None


def _true(call: Call, ctx: Context) -> bool:
    return True


def _all(parts: list[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    return lambda call, ctx: all(p(call, ctx) for p in parts)
