"""From YAML source to a compiled Contract: every field validated, errors name field and line."""

import re
from typing import Any, Literal, overload

from apps.contracts.engine.contract import Contract
from apps.contracts.engine.errors import ContractError
from apps.contracts.engine.loader import LDict, line_of, load, plain
from apps.contracts.engine.predicates import Pred, _Where, compile_pred, kinds_union, pred_kinds
from apps.contracts.engine.rules import (
    Always,
    AtMost,
    Eventually,
    MustNotFollow,
    Never,
    Post,
    Pre,
    Precedes,
    Rule,
    Within,
)
from apps.contracts.engine.schema import Check, compile_schema
from apps.contracts.engine.trace_rules import Flow, Grounding, Role, Termination
from apps.contracts.engine.values import KINDS
from apps.core.documents import content_digest

SEVERITIES = ("low", "medium", "high", "critical")
OPERATORS = ("never", "always", "eventually", "precedes", "must_not_follow", "within", "at_most",
             "pre", "post", "termination", "role", "flow", "grounding")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_TOP = {"name", "description", "severity", "runtime", "rules"}
# Names the API and pages use as paths next to contract names.
RESERVED = {"validate", "verdicts", "check", "whatif", "metrics", "new", "publish"}

FINAL_ANSWER = {"kind": "message", "actor": "agent", "content": {"empty": False}}
UNTRUSTED = {"kind": "observation", "provenance": "untrusted"}
TRUSTED = {"any": [{"actor": "user"}, {"role": ["user", "system"]}, {"kind": "observation", "provenance": "trusted"}]}
GROUNDS = {"any": [{"kind": "observation"}, {"actor": "user"}, {"role": ["user", "system"]}]}


def digest_of(doc: Any) -> str:
    return content_digest(plain(doc))


def compile_source(source: str) -> Contract:
    doc = load(source)
    if not isinstance(doc, dict):
        raise ContractError("a contract is a YAML mapping with name, severity and rules", line=line_of(doc))
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ContractError("name is required: lowercase letters, digits, '-', '_' or '.'",
                            field="name", line=line_of(doc, "name"))
    if name in RESERVED:
        raise ContractError(f"'{name}' is a reserved name", field="name", line=line_of(doc, "name"))
    where = _Where(name)
    for key in doc:
        if key not in _TOP:
            raise where.error(f"unknown key '{key}' (expected one of {', '.join(sorted(_TOP))})", str(key), doc, key)
    severity = doc.get("severity", "medium")
    if severity not in SEVERITIES:
        raise where.error(f"must be one of {', '.join(SEVERITIES)}", "severity", doc, "severity")
    runtime = doc.get("runtime", False)
    if not isinstance(runtime, bool):
        raise where.error("must be true or false", "runtime", doc, "runtime")
    rules_spec = doc.get("rules")
    if not isinstance(rules_spec, list) or not rules_spec:
        raise where.error("needs a non-empty list of rules", "rules", doc, "rules" if "rules" in doc else None)
    rules: list[Rule] = []
    names: set[str] = set()
    for i, spec in enumerate(rules_spec):
        rule = _rule(spec, f"rules[{i}]", where, rules_spec, i)
        if rule.name in names:
            raise where.error(f"duplicate rule name '{rule.name}'", f"rules[{i}].name", spec, "name")
        names.add(rule.name)
        rules.append(rule)
    return Contract(name=name, description=str(doc.get("description") or ""), severity=severity,
                    runtime=runtime, rules=rules, digest=digest_of(doc), source=source)


@overload
def _int(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: Literal[True],
         minimum: int = 0) -> int: ...
@overload
def _int(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: bool = False,
         minimum: int = 0) -> int | None: ...
def _int(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: bool = False,
         minimum: int = 0) -> int | None:
    value = spec.get(key)
    if value is None:
        if required:
            raise where.error("is required", f"{field}.{key}", spec)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(f"must be an integer >= {minimum}", f"{field}.{key}", spec, key)
    return value


def _number(spec: dict[str, Any], key: str, field: str, where: _Where) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise where.error("must be a non-negative number", f"{field}.{key}", spec, key)
    return float(value)


def _mapping(spec: Any, field: str, where: _Where, parent: Any, key: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise where.error("expects a mapping", field, parent, key)
    for k in spec:
        if k not in allowed:
            raise where.error(f"unknown key '{k}' (expected {', '.join(sorted(allowed))})", f"{field}.{k}", spec, k)
    return spec


@overload
def _pred(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: Literal[True] = True) -> Pred: ...
@overload
def _pred(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: Literal[False],
          default: None = None) -> Pred | None: ...
@overload
def _pred(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: Literal[False],
          default: dict[str, Any]) -> Pred: ...
def _pred(spec: dict[str, Any], key: str, field: str, where: _Where, *, required: bool = True,
          default: dict[str, Any] | None = None) -> Pred | None:
    """The predicate under `key`: required (an error when missing), else `default`'s, else None."""
    if key not in spec or spec[key] is None:
        if required:
            raise where.error("is required", f"{field}.{key}", spec)
        return None if default is None else compile_pred(default, f"{field}.{key}", where)
    return compile_pred(spec[key], f"{field}.{key}", where)


def _kinds(spec: dict[str, Any], field: str, where: _Where, default: list[str]) -> list[str]:
    kinds = spec.get("kinds", default)
    if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
        raise where.error(f"must be a list of {', '.join(KINDS)}", f"{field}.kinds", spec, "kinds")
    return list(kinds)


def _rule(spec: Any, field: str, where: _Where, parent: Any, index: int) -> Rule:
    rule = _build(spec, field, where, parent, index)
    rule.kinds = _interest(rule.operator, plain(spec.get(rule.operator)), plain(spec))
    return rule


def _interest(op: str, arg: Any, spec: dict[str, Any]) -> frozenset[str] | None:
    """Which step kinds can change the rule's state; None means every step (deadlines, budgets)."""
    pk = pred_kinds
    if op in ("never", "eventually"):
        return pk(arg)
    if op == "always":
        return pk(spec.get("where"))
    if op in ("precedes", "must_not_follow"):
        return kinds_union(pk(arg.get("first")), pk(arg.get("then")))
    if op == "at_most":
        return pk(arg.get("match"))
    if op == "pre":
        return kinds_union(pk(arg.get("on")), *(pk(arg[k]) for k in ("after", "not_after") if k in arg))
    if op == "post":
        return kinds_union(pk(arg.get("on")), frozenset(["observation", "decision"]))  # a stopped call ends the wait
    if op == "role":
        return pk(arg.get("on") or {"kind": "action"})
    if op == "flow":
        return kinds_union(pk(arg.get("sources") or UNTRUSTED), pk(arg.get("trusted") or TRUSTED), pk(arg.get("sinks")))
    if op == "grounding":
        arg = arg or {}
        return kinds_union(pk(arg.get("sources") or GROUNDS), pk(arg.get("answer") or FINAL_ANSWER))
    return None


def _build(spec: Any, field: str, where: _Where, parent: Any, index: int) -> Rule:
    if not isinstance(spec, LDict):
        raise where.error("a rule is a mapping with one operator", field, parent, index)
    ops = [k for k in spec if k in OPERATORS]
    extra = [k for k in spec if k not in OPERATORS and k not in ("name", "message", "where")]
    if extra:
        raise where.error(f"unknown key '{extra[0]}' (operators: {', '.join(OPERATORS)})",
                          f"{field}.{extra[0]}", spec, extra[0])
    if len(ops) != 1:
        raise where.error(f"needs exactly one operator of {', '.join(OPERATORS)}", field, parent, index)
    op = ops[0]
    arg = spec[op]
    name = spec.get("name") or f"{op}-{index}"
    if not isinstance(name, str):
        raise where.error("must be a string", f"{field}.name", spec, "name")
    message = str(spec.get("message") or "")
    f = f"{field}.{op}"
    if "where" in spec and op != "always":
        raise where.error("'where' only applies to 'always'", f"{field}.where", spec, "where")
    if op == "never":
        return Never(name, message, compile_pred(arg, f, where))
    if op == "eventually":
        return Eventually(name, message, compile_pred(arg, f, where))
    if op == "always":
        return Always(name, message, compile_pred(arg, f, where), compile_pred(spec.get("where"), f"{field}.where", where))
    if op in ("precedes", "must_not_follow"):
        m = _mapping(arg, f, where, spec, op, {"first", "then"})
        cls: type[Precedes | MustNotFollow] = Precedes if op == "precedes" else MustNotFollow
        return cls(name, message, _pred(m, "first", f, where), _pred(m, "then", f, where))
    if op == "within":
        m = _mapping(arg, f, where, spec, op, {"after", "expect", "steps"})
        return Within(name, message, _pred(m, "after", f, where), _pred(m, "expect", f, where),
                      _int(m, "steps", f, where, required=True, minimum=1))
    if op == "at_most":
        m = _mapping(arg, f, where, spec, op, {"match", "count"})
        return AtMost(name, message, _pred(m, "match", f, where), _int(m, "count", f, where, required=True))
    if op == "pre":
        m = _mapping(arg, f, where, spec, op, {"on", "require", "after", "not_after"})
        if not any(k in m for k in ("require", "after", "not_after")):
            raise where.error("needs require, after or not_after", f, spec, op)
        return Pre(name, message, _pred(m, "on", f, where), _pred(m, "require", f, where, required=False),
                   _pred(m, "after", f, where, required=False), _pred(m, "not_after", f, where, required=False))
    if op == "post":
        m = _mapping(arg, f, where, spec, op, {"on", "error", "schema", "result"})
        no_error = m.get("error", False) is False and "error" in m
        if "error" in m and not isinstance(m["error"], bool):
            raise where.error("must be false (the observation has no error) or true", f"{f}.error", m, "error")
        schema: Check | None = None
        if "schema" in m:
            schema = compile_schema(plain(m["schema"]), contract=where.contract, field=f"{f}.schema",
                                    line=line_of(m, "schema"))
        result = compile_pred({"result": m["result"]}, f, where) if "result" in m else None
        if not (no_error or schema or result):
            raise where.error("needs error: false, schema or result", f, spec, op)
        return Post(name, message, _pred(m, "on", f, where), no_error, schema, result)
    if op == "termination":
        m = _mapping(arg, f, where, spec, op, {"max_steps", "max_tokens", "max_cost", "max_seconds", "final_answer"})
        fa = m.get("final_answer")
        final: Pred | None = None
        if fa is True:
            final = compile_pred(FINAL_ANSWER, f"{f}.final_answer", where)
        elif isinstance(fa, dict):
            final = compile_pred(fa, f"{f}.final_answer", where)
        elif fa not in (None, False):
            raise where.error("must be true or a step predicate", f"{f}.final_answer", m, "final_answer")
        rule = Termination(name, message, max_steps=_int(m, "max_steps", f, where), max_tokens=_int(m, "max_tokens", f, where),
                           max_cost=_number(m, "max_cost", f, where), max_seconds=_number(m, "max_seconds", f, where),
                           final_answer=final)
        if all(v is None for v in (rule.max_steps, rule.max_tokens, rule.max_cost, rule.max_seconds, final)):
            raise where.error("needs a budget or final_answer", f, spec, op)
        return rule
    if op == "role":
        m = _mapping(arg, f, where, spec, op, {"capabilities", "on", "strict"})
        caps = m.get("capabilities")
        if not isinstance(caps, dict) or not caps or not all(
                isinstance(t, list) and all(isinstance(x, str) for x in t) for t in caps.values()):
            raise where.error("must map each agent to a list of tool globs", f"{f}.capabilities", m, "capabilities")
        return Role(name, message, {str(a): list(t) for a, t in caps.items()},
                    _pred(m, "on", f, where, required=False, default={"kind": "action"}), bool(m.get("strict", True)))
    if op == "flow":
        m = _mapping(arg, f, where, spec, op, {"sources", "trusted", "sinks", "kinds", "min_number_digits"})
        return Flow(name, message, sources=_pred(m, "sources", f, where, required=False, default=UNTRUSTED),
                    trusted=_pred(m, "trusted", f, where, required=False, default=TRUSTED),
                    sinks=_pred(m, "sinks", f, where),
                    kinds=_kinds(m, f, where, ["iban", "email", "url", "token", "number"]),
                    min_number_digits=_int(m, "min_number_digits", f, where) or 4)
    # grounding
    m = _mapping(arg if arg is not None else LDict(), f, where, spec, op,
                 {"sources", "answer", "kinds", "min_number_digits"})
    return Grounding(name, message, sources=_pred(m, "sources", f, where, required=False, default=GROUNDS),
                     answer=_pred(m, "answer", f, where, required=False, default=FINAL_ANSWER),
                     kinds=_kinds(m, f, where, ["number", "iban", "name", "email", "url"]),
                     min_number_digits=_int(m, "min_number_digits", f, where) or 2)
