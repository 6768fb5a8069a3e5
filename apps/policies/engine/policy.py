"""The compiled policy and its evaluation. Pure Python: no Django import.

Conflict resolution, in order:
1. Governance first: a suspended agent is blocked on every call; a revoked tool is blocked; the
   agent's argument bounds must hold (an argument outside them blocks the call).
2. Rules whose `tool` matches the call (exact names and globs) are ranked by priority, highest
   first; at equal priority deny rules rank above allow rules; then file order.
3. A rule *applies* when its `if` condition holds and the arguments satisfy its `when` schemas.
   The highest-ranked applying rule decides: allow -> allow; deny -> the rule's fallback
   (block unless it says rewrite, ask or terminate). Allow rules are alternatives: a lower
   allow rule may allow a call a higher allow rule's constraints refused.
4. When no rule applies but an allow rule for the tool failed only on its argument constraints,
   that (highest-ranked) rule's fallback answers, so a rule can explain or repair its own refusal.
5. Otherwise the policy's `default` answers (block unless the policy says allow).
A rewrite is re-evaluated against the whole policy (without further rewrites): it stands only if
the rewritten call is allowed, so a rewrite can never smuggle a call past a deny rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import fastjsonschema
import fastjsonschema.draft07

from apps.core.documents import PatternError, compile_pattern

ALLOW, BLOCK, REWRITE, ASK, TERMINATE = "allow", "block", "rewrite", "ask", "terminate"
VERDICTS = (ALLOW, BLOCK, REWRITE, ASK, TERMINATE)
# How restrictive each verdict is, for combining a policy with episode narrowings.
SEVERITY = {ALLOW: 0, REWRITE: 1, ASK: 2, BLOCK: 3, TERMINATE: 4}
# Verdicts that stop an action before it runs: each one is a contained violation (reviews records it).
STOPPING = frozenset((BLOCK, TERMINATE))
# The rule a decision cites when it answers "terminate" because its episode was already terminated.
TERMINATED_RULE = "episode:terminated"
DENY = "deny"


@dataclass(slots=True)
class Call:
    tool: str
    arguments: dict[str, Any]
    agent: str = ""


@dataclass(slots=True)
class Context:
    """What conditions may look at. `counts` are the episode's earlier allowed calls per tool."""

    untrusted: bool = False
    counts: Mapping[str, int] = field(default_factory=dict)
    steps: int = 0
    environment: str = ""
    state: str | None = None
    suspended: bool = False
    revoked_tools: Sequence[str] = ()
    arg_bounds: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    now: datetime | None = None


@dataclass(slots=True)
class Verdict:
    verdict: str
    arguments: dict[str, Any]
    message: str = ""
    rule: str | None = None
    detail: str | None = None  # why: the constraint that failed, for evidence records
    timeout: int | None = None  # ask: seconds before `default` applies
    default: str | None = None  # ask: verdict on timeout

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "arguments": self.arguments, "message": self.message, "rule": self.rule,
            "detail": self.detail, "timeout": self.timeout, "default": self.default,
        }


@dataclass(slots=True)
class Fallback:
    action: str = BLOCK
    message: str = ""
    set: dict[str, Any] = field(default_factory=dict)
    clamp: dict[str, dict[str, Any]] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    timeout: int = 60
    default: str = BLOCK

    def rewrite(self, arguments: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in arguments.items() if k not in self.drop}
        for name, bounds in self.clamp.items():
            value = out.get(name)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                if "minimum" in bounds and value < bounds["minimum"]:
                    value = bounds["minimum"]
                if "maximum" in bounds and value > bounds["maximum"]:
                    value = bounds["maximum"]
            elif isinstance(value, str | list) and "max_length" in bounds:
                value = value[: bounds["max_length"]]
            out[name] = value
        out.update(self.set)
        return out


ArgCheck = Callable[[dict[str, Any]], str | None]
Condition = Callable[[Call, Context], bool]


@dataclass(slots=True)
class Rule:
    id: str
    tool: str
    effect: str
    priority: int
    order: int
    fallback: Fallback
    check_args: ArgCheck | None = None
    condition: Condition | None = None
    line: int | None = None

    @property
    def is_glob(self) -> bool:
        return any(c in self.tool for c in "*?[")

    def rank(self) -> tuple[int, int, int]:
        return (-self.priority, 0 if self.effect == DENY else 1, self.order)


def schema_check(schema: dict[str, Any]) -> ArgCheck:
    """Compiles a JSON Schema once; the returned check gives None or the first failure message.

    Its `pattern` and `patternProperties` regexes run under RE2 (linear time, see
    apps/core/documents/patterns.py); a pattern RE2 cannot run raises PatternError.
    """
    validate = fastjsonschema.compile(schema)
    _patterns_linear(validate, schema)

    def check(arguments: dict[str, Any]) -> str | None:
        try:
            validate(arguments)
        except fastjsonschema.JsonSchemaValueException as exc:
            return exc.message.replace("data.", "argument ", 1).replace("data ", "arguments ", 1)
        return None

    return check


def _user_patterns(schema: Any) -> set[str]:
    found: set[str] = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("pattern"), str):
                found.add(item["pattern"])
            if isinstance(item.get("patternProperties"), dict):
                found.update(k for k in item["patternProperties"] if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _patterns_linear(validate: Callable[..., Any], schema: dict[str, Any]) -> None:
    """Swaps the backtracking `re` patterns fastjsonschema compiled for RE2 ones.

    The generated validator looks its patterns up in the REGEX_PATTERNS dict of its globals at call
    time. Its own `format` patterns stay (fixed, not user-written); an entry that is neither is
    refused, so a change in how fastjsonschema stores patterns fails here rather than backtracks.
    """
    compiled = validate.__globals__.get("REGEX_PATTERNS", {})
    user = _user_patterns(schema)
    for key in list(compiled):
        if key in user:
            compiled[key] = compile_pattern(key)
        elif key not in _FORMATS:
            raise PatternError(f"pattern {key!r} could not be moved to RE2")


_FORMATS = frozenset(f"{name}_re_pattern" for name in fastjsonschema.draft07.CodeGeneratorDraft07.FORMAT_REGEXS)
_BOUNDS_CACHE: dict[str, ArgCheck] = {}


def bounds_check(bounds: Mapping[str, Mapping[str, Any]]) -> ArgCheck:
    """Governance argument bounds change rarely; compile each distinct set once per process."""
    key = json.dumps(bounds, sort_keys=True, default=str)
    check = _BOUNDS_CACHE.get(key)
    if check is None:
        if len(_BOUNDS_CACHE) > 1024:
            _BOUNDS_CACHE.clear()
        try:
            check = schema_check({"type": "object", "properties": dict(bounds)})
        except Exception as exc:  # noqa: BLE001 - bounds a reviewer typed by hand: refuse calls, never crash
            check = _refuse_all(f"the bounds cannot be checked ({exc})")
        _BOUNDS_CACHE[key] = check
    return check


def _refuse_all(message: str) -> ArgCheck:
    return lambda _arguments: message


class CompiledPolicy:
    def __init__(self, *, name: str, digest: str, default: Fallback | None, rules: list[Rule],
                 tests: list[Any] | None = None, data: Any = None):
        self.name = name
        self.digest = digest
        self.default = default  # None means allow
        self.rules = sorted(rules, key=Rule.rank)
        self.tests = tests or []
        self.data = data
        self._exact: dict[str, list[Rule]] = {}
        self._globs: list[Rule] = []
        for rule in self.rules:
            (self._globs if rule.is_glob else self._exact.setdefault(rule.tool, [])).append(rule)
        self._candidates: dict[str, tuple[Rule, ...]] = {}

    def candidates(self, tool: str) -> tuple[Rule, ...]:
        """Rules naming `tool`, exact or by glob, best-ranked first; memoised per tool name."""
        found = self._candidates.get(tool)
        if found is None:
            found = tuple(sorted(
                self._exact.get(tool, []) + [r for r in self._globs if fnmatchcase(tool, r.tool)], key=Rule.rank
            ))
            if len(self._candidates) > 4096:
                self._candidates.clear()
            self._candidates[tool] = found
        return found

    def evaluate(self, call: Call, ctx: Context, *, rewrite: bool = True) -> Verdict:
        blocked = _governance(call, ctx)
        if blocked is not None:
            return blocked
        failed: Rule | None = None
        failed_detail: str | None = None
        for rule in self.candidates(call.tool):
            if rule.condition is not None and not rule.condition(call, ctx):
                continue
            if rule.check_args is not None:
                problem = rule.check_args(call.arguments)
                if problem is not None:
                    if rule.effect == ALLOW and failed is None:
                        failed, failed_detail = rule, problem
                    continue
            if rule.effect == ALLOW:
                return Verdict(ALLOW, call.arguments, "", rule.id)
            return self._fallback(rule.fallback, rule.id, call, ctx, rewrite, None)
        if failed is not None:
            return self._fallback(failed.fallback, failed.id, call, ctx, rewrite, failed_detail)
        if self.default is None:
            return Verdict(ALLOW, call.arguments, "", None)
        return self._fallback(self.default, None, call, ctx, rewrite, f"no rule allows '{call.tool}'")

    def _fallback(self, fb: Fallback, rule_id: str | None, call: Call, ctx: Context, rewrite: bool,
                  detail: str | None) -> Verdict:
        action = fb.action
        if action == REWRITE:
            if not rewrite:
                return Verdict(BLOCK, call.arguments, fb.message or _refusal(call, rule_id), rule_id,
                               f"rewritten arguments are still refused: {detail}")
            new_args = fb.rewrite(call.arguments)
            again = self.evaluate(Call(call.tool, new_args, call.agent), ctx, rewrite=False)
            if again.verdict != ALLOW:
                return again
            return Verdict(REWRITE, new_args, fb.message or "arguments were rewritten by policy", rule_id, detail)
        message = fb.message or _refusal(call, rule_id)
        if action == ASK:
            return Verdict(ASK, call.arguments, fb.message or "waiting for a reviewer's approval", rule_id,
                           detail, fb.timeout, fb.default)
        return Verdict(action, call.arguments, message, rule_id, detail)


def _refusal(call: Call, rule_id: str | None) -> str:
    if rule_id is None:
        return f"'{call.tool}' is not allowed by the policy"
    return f"'{call.tool}' is not allowed by rule {rule_id}"


def _governance(call: Call, ctx: Context) -> Verdict | None:
    if ctx.suspended:
        return Verdict(BLOCK, call.arguments, f"agent '{call.agent}' is suspended", "governance:suspended",
                       "suspended by governance")
    for pattern in ctx.revoked_tools:
        if fnmatchcase(call.tool, pattern):
            return Verdict(BLOCK, call.arguments, f"'{call.tool}' has been revoked for agent '{call.agent}'",
                           "governance:revoked", f"revoked by sanction ({pattern})")
    for pattern, bounds in ctx.arg_bounds.items():
        if fnmatchcase(call.tool, pattern):
            problem = bounds_check(bounds)(call.arguments)
            if problem is not None:
                return Verdict(BLOCK, call.arguments, f"outside the bounds governance set: {problem}",
                               "governance:arg_bounds", problem)
    return None


def decide(policy: CompiledPolicy, call: Call, ctx: Context,
           narrowings: Sequence[CompiledPolicy] = ()) -> Verdict:
    """Evaluates `policy` and then each episode narrowing; the most restrictive answer wins.

    A narrowing is consulted only for calls the policy would let through (allow, rewrite, ask), so it
    can only take permissions away. A narrowing's rewrite must still be allowed by the policy.
    """
    verdict = policy.evaluate(call, ctx)
    for overlay in narrowings:
        if verdict.verdict not in (ALLOW, REWRITE, ASK):
            break
        seen = Call(call.tool, verdict.arguments, call.agent)
        other = overlay.evaluate(seen, ctx)
        if other.verdict == ALLOW:
            continue
        if other.verdict == REWRITE:
            base = policy.evaluate(Call(call.tool, other.arguments, call.agent), ctx, rewrite=False)
            if base.verdict != ALLOW:
                verdict = base
                continue
        if SEVERITY[other.verdict] >= SEVERITY[verdict.verdict]:
            verdict = Verdict(other.verdict, other.arguments, other.message,
                              f"narrowing:{other.rule or 'default'}", other.detail, other.timeout, other.default)
    return verdict
