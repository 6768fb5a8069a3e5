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
4. When no rule applies but an allow rule for the tool failed only on its argument constraints
   (or only on its `if`, when it declares a fallback), that (highest-ranked) rule's fallback
   answers, so a rule can explain or repair its own refusal.
5. Otherwise the policy's `default` answers (block unless the policy says allow), as rule "default".
A rewrite is re-evaluated against the whole policy (without further rewrites): it stands only if
the rewritten call is allowed, so a rewrite can never smuggle a call past a deny rule.
Outgoing messages are decided the same way, by rules with `message:` (the recipient) instead of `tool:`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from apps.policies.engine.arguments import Constraints
from apps.policies.engine.findings import Finding, Problem, describe
from apps.policies.engine.provenance import ProvenanceView
from apps.policies.engine.schema import ArgCheck, schema_check

ALLOW, BLOCK, REWRITE, ASK, TERMINATE = "allow", "block", "rewrite", "ask", "terminate"
VERDICTS = (ALLOW, BLOCK, REWRITE, ASK, TERMINATE)
# How restrictive each verdict is, for combining a policy with episode narrowings.
SEVERITY = {ALLOW: 0, REWRITE: 1, ASK: 2, BLOCK: 3, TERMINATE: 4}
# Verdicts that stop an action before it runs: each one is a contained violation (reviews records it).
STOPPING = frozenset((BLOCK, TERMINATE))
# The rule a decision cites when it answers "terminate" because its episode was already terminated.
TERMINATED_RULE = "episode:terminated"
DENY = "deny"
DEFAULT_RULE = "default"  # the rule a verdict names when the policy's `default` produced it
TOOL, MESSAGE = "tool", "message"


@dataclass(slots=True)
class Call:
    """A tool call, or (kind "message") an outgoing message: `tool` is then its recipient and
    `arguments` are {"content": text, "to": recipient}."""

    tool: str
    arguments: dict[str, Any]
    agent: str = ""
    kind: str = TOOL


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
    provenance: ProvenanceView | None = None  # the episode's value index (None: nothing is known)


@dataclass(slots=True)
class Verdict:
    verdict: str
    arguments: dict[str, Any]
    message: str = ""
    rule: str | None = None
    detail: str | None = None  # why: the constraint that failed, for evidence records
    timeout: int | None = None  # ask: seconds before `default` applies
    default: str | None = None  # ask: verdict on timeout
    finding: Finding | None = None  # provenance evidence: the value and the step it came from

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "arguments": self.arguments, "message": self.message, "rule": self.rule,
            "detail": self.detail, "timeout": self.timeout, "default": self.default,
            "finding": self.finding.as_dict() if self.finding else None,
        }


class RewriteRefused(Exception):
    """A rewrite that cannot bound an argument (a clamp on a value of the wrong type)."""


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
        """The rewritten arguments. Raises RewriteRefused rather than pass on a value a clamp cannot
        bound: "5000" under a numeric clamp stays a string, so the call is refused, not clamped."""
        out = {k: v for k, v in arguments.items() if k not in self.drop} if self.drop else dict(arguments)
        for name, bounds in self.clamp.items():
            if name not in out:
                continue
            value = out[name]
            numeric = "minimum" in bounds or "maximum" in bounds
            if numeric:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise RewriteRefused(f"argument {name} is not a number ({value!r}); a clamp cannot bound it")
                if "minimum" in bounds and value < bounds["minimum"]:
                    value = bounds["minimum"]
                if "maximum" in bounds and value > bounds["maximum"]:
                    value = bounds["maximum"]
            if "max_length" in bounds:
                if not isinstance(value, str | list):
                    raise RewriteRefused(f"argument {name} has no length ({value!r}); a clamp cannot shorten it")
                value = value[: bounds["max_length"]]
            out[name] = value
        out.update(self.set)
        return out


Condition = Callable[[Call, Context], bool]
Explain = Callable[[Call, Context], Finding | None]


@dataclass(slots=True)
class Rule:
    id: str
    tool: str
    effect: str
    priority: int
    order: int
    fallback: Fallback
    constraints: Constraints | None = None
    condition: Condition | None = None
    line: int | None = None
    kind: str = TOOL
    description: str = ""
    explicit_fallback: bool = False  # an allow rule's own fallback also answers when its `if` fails
    explain: Explain | None = None  # provenance evidence of its `if`, for the verdict it produces
    reads_provenance: bool = False  # its `when` or `if` asks the episode's provenance index

    @property
    def is_glob(self) -> bool:
        return any(c in self.tool for c in "*?[")

    def rank(self) -> tuple[int, int, int]:
        return (-self.priority, 0 if self.effect == DENY else 1, self.order)


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
                 tests: list[Any] | None = None, data: Any = None, description: str = "",
                 sensitive: Mapping[str, frozenset[str]] | None = None):
        self.name = name
        # {tool or glob: argument names} whose values are masked wherever a call is stored or shown.
        self.sensitive = dict(sensitive or {})
        self._sensitive_of: dict[str, frozenset[str]] = {}
        self.digest = digest
        self.description = description
        self.default = default  # None means allow
        self.rules = sorted(rules, key=Rule.rank)
        self.tests = tests or []
        self.data = data
        self._exact: dict[tuple[str, str], list[Rule]] = {}
        self._globs: list[Rule] = []
        for rule in self.rules:
            (self._globs if rule.is_glob else self._exact.setdefault((rule.kind, rule.tool), [])).append(rule)
        self._candidates: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._reads: dict[tuple[str, str], bool] = {}

    def candidates(self, tool: str, kind: str = TOOL) -> tuple[Rule, ...]:
        """Rules naming `tool` (or a message's recipient), exact or by glob, best-ranked first; memoised."""
        key = (kind, tool)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(sorted(
                self._exact.get(key, []) + [r for r in self._globs if r.kind == kind and fnmatchcase(tool, r.tool)],
                key=Rule.rank,
            ))
            if len(self._candidates) > 4096:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def reads_provenance(self, tool: str, kind: str = TOOL) -> bool:
        """Whether deciding a call to `tool` may ask the episode's provenance index (a rule naming it
        has a provenance condition), so a service can fetch the call's values with its context."""
        key = (kind, tool)
        found = self._reads.get(key)
        if found is None:
            found = any(rule.reads_provenance for rule in self.candidates(tool, kind))
            if len(self._reads) > 4096:
                self._reads.clear()
            self._reads[key] = found
        return found

    def sensitive_args(self, tool: str) -> frozenset[str]:
        """The arguments of `tool` the policy marks sensitive (exact names and globs); memoised."""
        found = self._sensitive_of.get(tool)
        if found is None:
            found = frozenset().union(*(names for pattern, names in self.sensitive.items()
                                        if pattern == tool or fnmatchcase(tool, pattern)))
            if len(self._sensitive_of) > 4096:
                self._sensitive_of.clear()
            self._sensitive_of[tool] = found
        return found

    def evaluate(self, call: Call, ctx: Context, *, rewrite: bool = True) -> Verdict:
        blocked = _governance(call, ctx)
        if blocked is not None:
            return blocked
        failed: Rule | None = None
        failed_problem: Problem | None = None
        for rule in self.candidates(call.tool, call.kind):
            if rule.condition is not None and not rule.condition(call, ctx):
                if rule.explicit_fallback and rule.effect == ALLOW and failed is None:
                    failed = rule
                    failed_problem = Problem(f"the condition of rule {rule.id} does not hold", _explain(rule, call, ctx))
                continue
            if rule.constraints is not None:
                problem = rule.constraints.check(call.arguments, ctx.provenance)
                if problem is not None:
                    if rule.effect == ALLOW and failed is None:
                        failed, failed_problem = rule, problem
                    continue
            if rule.effect == ALLOW:
                return Verdict(ALLOW, call.arguments, "", rule.id)
            return self._fallback(rule.fallback, rule.id, call, ctx, rewrite, Problem("", _explain(rule, call, ctx)))
        if failed is not None:
            return self._fallback(failed.fallback, failed.id, call, ctx, rewrite, failed_problem)
        if self.default is None:
            return Verdict(ALLOW, call.arguments, "", DEFAULT_RULE)
        noun = "message to" if call.kind == MESSAGE else "rule allows"
        return self._fallback(self.default, DEFAULT_RULE, call, ctx, rewrite, Problem(f"no {noun} '{call.tool}'"))

    def _fallback(self, fb: Fallback, rule_id: str, call: Call, ctx: Context, rewrite: bool,
                  problem: Problem | None) -> Verdict:
        detail = (problem.detail or None) if problem else None
        finding = problem.finding if problem else None
        if finding is not None and detail is None:
            detail = describe(finding)
        action = fb.action
        if action == REWRITE:
            try:
                new_args = fb.rewrite(call.arguments) if rewrite else call.arguments
            except RewriteRefused as exc:
                return Verdict(BLOCK, call.arguments, fb.message or _refusal(call, rule_id), rule_id, str(exc),
                               finding=finding)
            if new_args == call.arguments:
                # Arguments the rewrite leaves as they were are refused again, by this same rule (a
                # provenance refusal under a clamp, say): no second evaluation needed to know it.
                return Verdict(BLOCK, call.arguments, fb.message or _refusal(call, rule_id), rule_id,
                               f"rewritten arguments are still refused: {detail}", finding=finding)
            again = self.evaluate(Call(call.tool, new_args, call.agent, call.kind), ctx, rewrite=False)
            if again.verdict != ALLOW:
                return again
            return Verdict(REWRITE, new_args, fb.message or "arguments were rewritten by policy", rule_id, detail,
                           finding=finding)
        message = fb.message or _refusal(call, rule_id)
        if action == ASK:
            return Verdict(ASK, call.arguments, fb.message or "waiting for a reviewer's approval", rule_id,
                           detail, fb.timeout, fb.default, finding)
        return Verdict(action, call.arguments, message, rule_id, detail, finding=finding)


def _explain(rule: Rule, call: Call, ctx: Context) -> Finding | None:
    return rule.explain(call, ctx) if rule.explain is not None else None


def _refusal(call: Call, rule_id: str) -> str:
    what = f"a message to '{call.tool}'" if call.kind == MESSAGE else f"'{call.tool}'"
    if rule_id == DEFAULT_RULE:
        return f"{what} is not allowed by the policy"
    return f"{what} is not allowed by rule {rule_id}"


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
        seen = Call(call.tool, verdict.arguments, call.agent, call.kind)
        other = overlay.evaluate(seen, ctx)
        if other.verdict == ALLOW:
            continue
        if other.verdict == REWRITE:
            base = policy.evaluate(Call(call.tool, other.arguments, call.agent, call.kind), ctx, rewrite=False)
            if base.verdict != ALLOW:
                verdict = base
                continue
        if SEVERITY[other.verdict] >= SEVERITY[verdict.verdict]:
            verdict = Verdict(other.verdict, other.arguments, other.message,
                              f"narrowing:{other.rule or DEFAULT_RULE}", other.detail, other.timeout, other.default,
                              other.finding)
    return verdict
