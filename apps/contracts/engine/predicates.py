"""Declarative step predicates compiled to closures. No eval: every operator is a Python function.

A predicate is a mapping of step fields to matchers, all of which must hold:

    {kind: action, tool: "send_*", agent: [payer, treasurer], provenance: untrusted,
     error: true, verdict: block, args: {amount: {gt: 1000}, "to.iban": {regex: "^DE"}},
     result: {status: ok}, content: {contains: "password"}}

plus the combinators `all: [...]`, `any: [...]`, `not: {...}`. A matcher is a scalar (equality,
or a glob when a string holds * ? or [), a list (any of), or a mapping of operators:
eq ne in not_in glob regex contains gt gte lt lte minimum maximum exists empty length_gt length_lt.
"""

import fnmatch
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from apps.contracts.engine.errors import ContractError
from apps.contracts.engine.loader import line_of
from apps.core.documents import PatternError, compile_pattern

Step = dict[str, Any]
"""A trace step as JSON, with the Step model's field names (index, kind, agent, tool, arguments, result...)."""
Pred = Callable[[Step], bool]
Matcher = Callable[[Any], bool]  # a step field's value (or _MISSING) -> does it match
# A check binds what it compares with as default arguments (the fastest closure in CPython), so its
# signature is wider than the Pred or Matcher it is used as: (value, *bound) -> bool.
_Bound = Callable[..., bool]
_MISSING = object()

STEP_FIELDS = ("kind", "actor", "agent", "role", "tool", "source", "provenance", "content", "index")
PATH_FIELDS = {"args": "arguments", "arguments": "arguments", "result": "result", "attributes": "attributes"}


def _true(_step: Step) -> bool:
    return True


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def glob_matcher(pattern: str) -> Matcher:
    if not _is_glob(pattern):
        return lambda v: v == pattern
    rx = re.compile(fnmatch.translate(pattern))
    return lambda v: isinstance(v, str) and rx.match(v) is not None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _cmp(op: Callable[[float, float], bool], bound: float) -> Matcher:
    def check(v: Any) -> bool:
        n = _num(v)
        return n is not None and op(n, bound)

    return check


class _Where:
    """Tracks the YAML position being compiled so errors point at it."""

    def __init__(self, contract: str):
        self.contract = contract

    def error(self, message: str, field: str, container: Any = None, key: Any = None) -> ContractError:
        return ContractError(message, contract=self.contract, field=field, line=line_of(container, key))


def _operators(spec: dict[str, Any], field: str, where: _Where) -> Matcher:
    checks: list[_Bound] = []
    for op, arg in spec.items():
        f = f"{field}.{op}"
        if op == "eq":
            checks.append(lambda v, a=arg: v == a)
        elif op == "ne":
            checks.append(lambda v, a=arg: v != a)
        elif op in ("in", "not_in"):
            if not isinstance(arg, list):
                raise where.error("expects a list", f, spec, op)
            members = list(arg)
            checks.append((lambda v, m=members: v in m) if op == "in" else (lambda v, m=members: v not in m))
        elif op == "glob":
            if not isinstance(arg, str):
                raise where.error("expects a string", f, spec, op)
            rx = re.compile(fnmatch.translate(arg))
            checks.append(lambda v, r=rx: isinstance(v, str) and r.match(v) is not None)
        elif op == "regex":
            try:
                pattern = compile_pattern(str(arg))
            except PatternError as exc:
                raise where.error(f"invalid regular expression: {exc}", f, spec, op) from None
            checks.append(lambda v, r=pattern: isinstance(v, str) and r.search(v) is not None)
        elif op == "contains":
            checks.append(lambda v, a=arg: isinstance(v, (str, list, dict)) and a in v)
        elif op in ("gt", "gte", "lt", "lte", "minimum", "maximum"):
            bound = _num(arg)
            if bound is None:
                raise where.error("expects a number", f, spec, op)
            fn = {
                "gt": float.__gt__, "gte": float.__ge__, "minimum": float.__ge__,
                "lt": float.__lt__, "lte": float.__le__, "maximum": float.__le__,
            }[op]
            checks.append(_cmp(fn, bound))
        elif op == "exists":
            checks.append((lambda v: v is not _MISSING and v is not None) if arg else (lambda v: v is _MISSING or v is None))
        elif op == "empty":
            checks.append((lambda v: not v or v is _MISSING) if arg else (lambda v: bool(v) and v is not _MISSING))
        elif op in ("length_gt", "length_lt"):
            bound = _num(arg)
            if bound is None:
                raise where.error("expects a number", f, spec, op)
            if op == "length_gt":
                checks.append(lambda v, b=bound: hasattr(v, "__len__") and len(v) > b)
            else:
                checks.append(lambda v, b=bound: hasattr(v, "__len__") and len(v) < b)
        else:
            raise where.error(f"unknown operator '{op}'", f, spec, op)
    if not checks:
        raise where.error("needs at least one operator", field, spec)
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def value_matcher(spec: Any, field: str, where: _Where) -> Matcher:
    if isinstance(spec, dict):
        return _operators(spec, field, where)
    if isinstance(spec, list):
        options = [value_matcher(s, f"{field}[{i}]", where) for i, s in enumerate(spec)]
        return lambda v: any(o(v) for o in options)
    if isinstance(spec, str):
        return glob_matcher(spec)
    return lambda v: v == spec


def _path_getter(path: str) -> Callable[[Any], Any]:
    parts = [int(p) if p.isdigit() else p for p in str(path).split(".")]

    def get(value: Any) -> Any:
        for p in parts:
            if isinstance(value, dict):
                value = value.get(p, _MISSING) if isinstance(p, str) else value.get(str(p), _MISSING)
            elif isinstance(value, list) and isinstance(p, int) and p < len(value):
                value = value[p]
            else:
                return _MISSING
            if value is _MISSING:
                return _MISSING
        return value

    return get


def compile_pred(spec: Any, field: str, where: _Where) -> Pred:
    if spec is None or spec == {}:
        return _true
    if not isinstance(spec, dict):
        raise where.error("a step predicate must be a mapping of fields", field)
    checks: list[_Bound] = []
    for key, arg in spec.items():
        f = f"{field}.{key}"
        if key in ("all", "any"):
            if not isinstance(arg, list) or not arg:
                raise where.error("expects a non-empty list of predicates", f, spec, key)
            subs = [compile_pred(s, f"{f}[{i}]", where) for i, s in enumerate(arg)]
            checks.append((lambda s, ps=subs: all(p(s) for p in ps)) if key == "all"
                          else (lambda s, ps=subs: any(p(s) for p in ps)))
        elif key == "not":
            sub = compile_pred(arg, f, where)
            checks.append(lambda s, p=sub: not p(s))
        elif key in STEP_FIELDS:
            # The common cases (a literal, a list of literals) skip the matcher call: this is the hot path.
            if isinstance(arg, str) and not _is_glob(arg) or isinstance(arg, (int, float)):
                checks.append(lambda s, k=key, a=arg: s.get(k) == a)
            elif isinstance(arg, list) and all(isinstance(a, str) and not _is_glob(a) for a in arg):
                checks.append(lambda s, k=key, a=frozenset(arg): s.get(k) in a)
            else:
                m = value_matcher(arg, f, where)
                checks.append(lambda s, k=key, m=m: m(s.get(k)))
        elif key == "error":
            if isinstance(arg, bool):
                checks.append((lambda s: bool(s.get("error"))) if arg else (lambda s: not s.get("error")))
            else:
                m = value_matcher(arg, f, where)
                checks.append(lambda s, m=m: m(s.get("error") or ""))
        elif key == "verdict":
            m = value_matcher(arg, f, where)
            checks.append(lambda s, m=m: m((s.get("attributes") or {}).get("verdict")))
        elif key in PATH_FIELDS:
            if not isinstance(arg, dict) or not arg:
                raise where.error("expects a mapping of paths to matchers", f, spec, key)
            column = PATH_FIELDS[key]
            for path, mspec in arg.items():
                get = _path_getter(path)
                m = value_matcher(mspec, f"{f}.{path}", where)
                checks.append(lambda s, c=column, g=get, m=m: m(g(s.get(c))))
        else:
            raise where.error(f"unknown step field '{key}'", f, spec, key)
    # Cheap fields (kind, tool) were written first by most authors; keep the given order.
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda s: a(s) and b(s)
    if len(checks) == 3:
        a, b, c = checks
        return lambda s: a(s) and b(s) and c(s)
    return lambda s: all(c(s) for c in checks)


def pred_kinds(spec: Any) -> frozenset[str] | None:
    """The step kinds a predicate can match, or None for any: lets the checker skip rules cheaply."""
    if not isinstance(spec, dict) or not spec:
        return None
    constraints: list[frozenset[str]] = []
    kind = spec.get("kind")
    if isinstance(kind, str) and not _is_glob(kind):
        constraints.append(frozenset([kind]))
    elif isinstance(kind, list) and kind and all(isinstance(k, str) and not _is_glob(k) for k in kind):
        constraints.append(frozenset(kind))
    if isinstance(spec.get("all"), list):
        constraints.extend(k for k in (pred_kinds(s) for s in spec["all"]) if k is not None)
    if isinstance(spec.get("any"), list) and spec["any"]:
        union = kinds_union(*(pred_kinds(s) for s in spec["any"]))
        if union is not None:
            constraints.append(union)
    if not constraints:
        return None
    return frozenset.intersection(*constraints)


def kinds_union(*kinds: frozenset[str] | None) -> frozenset[str] | None:
    known = [k for k in kinds if k is not None]
    if len(known) < len(kinds):
        return None
    return frozenset[str]().union(*known)
