"""Governance graph manifests: YAML in, a validated `Graph` out, every error with its line.

    name: market-institution
    initial: compliant
    tools: [produce, set_price, send_message]     # optional; lets sanctions be checked
    states:
      compliant: {}
      warned:
        sanctions:
          - tighten: {tool: produce, arguments: {quantity: {minimum: 10}}}
      suspended:
        sanctions: [{suspend: true}]
      trusted:
        decay: {after: 7d, to: compliant, renew_when: "violations.total == 0"}
    transitions:
      - {from: compliant, to: warned, when: "metric.collusion_tier >= 3 for 2 rounds"}
      - {from: [compliant, warned], to: suspended, when: "violations.severe >= 1 within 10 steps"}
    restore:
      - {from: warned, to: compliant, after_clean_rounds: 3}
      - {from: suspended, to: warned, by: reviewer}

Pure Python (PyYAML only), no Django.
"""

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict

from apps.core.documents import PatternError, compile_pattern, content_digest
from apps.governance.graph import predicates
from apps.governance.graph.predicates import Atom, Expr, PredicateError
from apps.governance.graph.yamlsource import GraphError, Problem, _line, _load, _Map, _normal, _Seq

SANCTION_KINDS = ("suspend", "revoke", "tighten", "fine")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")


ArgBounds = dict[str, Any]
"""JSON-Schema-like bounds of one argument: {"minimum": 10}, {"enum": [...]}, {"pattern": "..."}."""


class SanctionSpec(TypedDict, total=False):
    """A state's sanction as compiled: {"kind": "suspend"}, {"kind": "revoke", "tool": glob},
    {"kind": "tighten", "tool": glob, "arguments": {arg: bounds}} or {"kind": "fine", "details": {"amount": n}}."""

    kind: Required[str]
    tool: str
    arguments: dict[str, ArgBounds]
    details: dict[str, Any]


@dataclass(frozen=True)
class Decay:
    after_seconds: int
    to: str
    renew_when: Expr | None


@dataclass(frozen=True)
class State:
    name: str
    description: str
    sanctions: tuple[SanctionSpec, ...]
    decay: Decay | None
    line: int


@dataclass(frozen=True)
class Transition:
    number: int
    sources: tuple[str, ...]
    target: str
    kind: str  # "when" | "clean" | "reviewer"
    expr: Expr | None
    clean_rounds: int | None
    restorative: bool
    line: int

    @property
    def label(self) -> str:
        if self.kind == "when":
            return str(self.expr)
        if self.kind == "clean":
            return f"after {self.clean_rounds} clean rounds"
        return "reviewer decides"


@dataclass(frozen=True)
class Graph:
    name: str
    description: str
    initial: str
    states: dict[str, State]
    transitions: tuple[Transition, ...]
    tools: tuple[str, ...] | None
    manifest: dict[str, Any] = field(compare=False)  # the manifest as plain JSON data

    @property
    def digest(self) -> str:
        return content_digest(self.manifest)


# --- compile + validate ---------------------------------------------------------------------

def parse_duration(value: object) -> int:
    if isinstance(value, int) and value > 0:
        return value
    match = _DURATION.match(str(value).strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"duration {value!r}: use e.g. 30m, 12h, 7d")
    return int(match[1]) * _UNITS[match[2]]


def compile_graph(source: str) -> Graph:
    """Parses and validates; raises GraphError listing every problem with its line."""
    data = _load(source)
    problems: list[Problem] = []
    for key in data:
        if key not in ("name", "description", "initial", "tools", "states", "transitions", "restore"):
            problems.append(Problem(_line(data, key), f"unknown key {key!r}"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(_line(data, "name"), "name: a non-empty string is required"))
    tools = _compile_tools(data, problems)
    states = _compile_states(data, tools, problems)
    initial = data.get("initial")
    if not isinstance(initial, str):
        problems.append(Problem(_line(data, "initial"), "initial: name the state every agent starts in"))
    elif states and initial not in states:
        problems.append(Problem(_line(data, "initial"), f"initial: unknown state {initial!r}"))
    transitions = _compile_transitions(data, states, problems)
    if problems or not isinstance(name, str) or not isinstance(initial, str):  # either adds a problem above
        raise GraphError(problems)
    problems += _reachability(data, initial, states, transitions)
    problems += _conflicts(transitions)
    if problems:
        raise GraphError(problems)
    manifest = _normal(data)
    return Graph(
        name=name.strip(), description=str(data.get("description") or ""), initial=initial, states=states,
        transitions=tuple(transitions), tools=tools, manifest=manifest,
    )


def _compile_tools(data: _Map, problems: list[Problem]) -> tuple[str, ...] | None:
    tools = data.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        problems.append(Problem(_line(data, "tools"), "tools: a list of tool names"))
        return None
    return tuple(tools)


def _compile_states(data: _Map, tools: tuple[str, ...] | None, problems: list[Problem]) -> dict[str, State]:
    raw = data.get("states")
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(_line(data, "states"), "states: a mapping of state name to its settings"))
        return {}
    states: dict[str, State] = {}
    for state_name, spec in raw.items():
        line = _line(raw, state_name)
        if not isinstance(state_name, str) or not _STATE_NAME.match(state_name):
            problems.append(Problem(line, f"state name {state_name!r}: letters, digits, '_' or '-'"))
            continue
        spec = spec if spec is not None else _Map()
        if not isinstance(spec, dict):
            problems.append(Problem(line, f"state {state_name!r}: expected a mapping"))
            continue
        for key in spec:
            if key not in ("description", "sanctions", "decay"):
                problems.append(Problem(_line(spec, key, line), f"state {state_name!r}: unknown key {key!r}"))
        sanctions = _compile_sanctions(state_name, spec.get("sanctions"), _line(spec, "sanctions", line), tools, problems)
        states[state_name] = State(state_name, str(spec.get("description") or ""), sanctions, None, line)
    for state_name, spec in raw.items():
        if state_name in states and isinstance(spec, dict) and spec.get("decay") is not None:
            decay = _compile_decay(state_name, spec["decay"], _line(spec, "decay"), states, problems)
            old = states[state_name]
            states[state_name] = State(old.name, old.description, old.sanctions, decay, old.line)
    return states


def _compile_sanctions(state_name: str, raw: object, line: int, tools: tuple[str, ...] | None,
                       problems: list[Problem]) -> tuple[SanctionSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, _Seq):  # every list the loader reads
        problems.append(Problem(line, f"state {state_name!r}: sanctions is a list"))
        return ()
    out: list[SanctionSpec] = []
    for item, item_line in zip(raw, raw.item_lines, strict=True):
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in SANCTION_KINDS:
            problems.append(Problem(item_line, f"sanction: one of {', '.join(SANCTION_KINDS)} (e.g. '- revoke: [send_money]')"))
            continue
        kind, value = next(iter(item.items()))
        if kind == "suspend":
            if value is not True:
                problems.append(Problem(item_line, "suspend: true"))
                continue
            out.append({"kind": "suspend"})
        elif kind == "revoke":
            globs = [value] if isinstance(value, str) else value
            if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
                problems.append(Problem(item_line, "revoke: a tool name or glob, or a list of them"))
                continue
            for glob in globs:
                if _unknown_tool(glob, tools):
                    problems.append(Problem(item_line, f"sanction names unknown tool {glob!r} (declared: {', '.join(tools or ())})"))
                out.append({"kind": "revoke", "tool": glob})
        elif kind == "tighten":
            if not isinstance(value, dict) or not isinstance(value.get("tool"), str) or not isinstance(value.get("arguments"), dict) or not value["arguments"]:
                problems.append(Problem(item_line, "tighten: {tool: <name or glob>, arguments: {<arg>: {minimum: ...}}}"))
                continue
            bad = [a for a, c in value["arguments"].items() if not isinstance(c, dict) or not c]
            if bad:
                problems.append(Problem(item_line, f"tighten: argument {bad[0]!r} needs bounds like {{minimum: 10}}"))
                continue
            if _unknown_tool(value["tool"], tools):
                problems.append(Problem(item_line, f"sanction names unknown tool {value['tool']!r} (declared: {', '.join(tools or ())})"))
            for arg, bounds in value["arguments"].items():
                if "pattern" in bounds:
                    try:
                        compile_pattern(bounds["pattern"])
                    except PatternError as exc:
                        problems.append(Problem(item_line, f"tighten: argument {arg!r} pattern: {exc}"))
            out.append({"kind": "tighten", "tool": value["tool"], "arguments": _normal(value["arguments"])})
        elif kind == "fine":
            amount = value.get("amount") if isinstance(value, dict) else value
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
                problems.append(Problem(item_line, "fine: {amount: <positive number>, unit: <optional>}"))
                continue
            out.append({"kind": "fine", "details": _normal(value) if isinstance(value, dict) else {"amount": amount}})
    return tuple(out)


def _unknown_tool(glob: str, tools: tuple[str, ...] | None) -> bool:
    return tools is not None and not any(fnmatch.fnmatchcase(t, glob) for t in tools)


def _compile_decay(state_name: str, raw: object, line: int, states: dict[str, State],
                   problems: list[Problem]) -> Decay | None:
    if not isinstance(raw, dict) or "after" not in raw or "to" not in raw:
        problems.append(Problem(line, f"state {state_name!r}: decay needs after (e.g. 7d) and to (a state)"))
        return None
    try:
        after = parse_duration(raw["after"])
    except ValueError as exc:
        problems.append(Problem(_line(raw, "after", line), f"decay: {exc}"))
        return None
    if not isinstance(raw["to"], str) or raw["to"] not in states:
        problems.append(Problem(_line(raw, "to", line), f"decay: unknown state {raw['to']!r}"))
        return None
    renew: Expr | None = None
    if raw.get("renew_when") is not None:
        try:
            renew = predicates.parse(raw["renew_when"])
        except PredicateError as exc:
            problems.append(Problem(_line(raw, "renew_when", line), f"decay renew_when: {exc}"))
    return Decay(after, raw["to"], renew)


def _compile_transitions(data: _Map, states: dict[str, State], problems: list[Problem]) -> list[Transition]:
    out: list[Transition] = []
    for section in ("transitions", "restore"):
        raw = data.get(section)
        if raw is None:
            continue
        if not isinstance(raw, _Seq):  # every list the loader reads
            problems.append(Problem(_line(data, section), f"{section}: a list of {{from, to, ...}}"))
            continue
        for item, line in zip(raw, raw.item_lines, strict=True):
            transition = _compile_transition(item, line, section == "restore", len(out) + 1, states, problems)
            if transition:
                out.append(transition)
    return out


def _compile_transition(item: object, line: int, restorative: bool, number: int, states: dict[str, State],
                        problems: list[Problem]) -> Transition | None:
    if not isinstance(item, dict):
        problems.append(Problem(line, "a transition is a mapping with from, to and a trigger"))
        return None
    ok = True
    for key in item:
        if key not in ("from", "to", "when", "after_clean_rounds", "by", "description"):
            problems.append(Problem(_line(item, key, line), f"transition: unknown key {key!r}"))
            ok = False
    raw_from = item.get("from")
    sources = list(states) if raw_from == "*" else ([raw_from] if isinstance(raw_from, str) else raw_from)
    if not isinstance(sources, list) or not sources:
        problems.append(Problem(_line(item, "from", line), "transition: from names a state, a list of states or '*'"))
        return None
    for source in sources:
        if not isinstance(source, str) or source not in states:
            problems.append(Problem(_line(item, "from", line), f"transition: unknown state {source!r}"))
            ok = False
    target = item.get("to")
    if not isinstance(target, str) or target not in states:
        problems.append(Problem(_line(item, "to", line), f"transition: unknown state {target!r}"))
        ok = False
    triggers = [k for k in ("when", "after_clean_rounds", "by") if k in item]
    if len(triggers) != 1:
        problems.append(Problem(line, "transition: give exactly one trigger: when, after_clean_rounds or by: reviewer"))
        return None
    kind, expr, clean = triggers[0], None, None
    if kind == "when":
        try:
            expr = predicates.parse(item["when"])
        except PredicateError as exc:
            problems.append(Problem(_line(item, "when", line), f"when: {exc}"))
            ok = False
    elif kind == "after_clean_rounds":
        clean = item["after_clean_rounds"]
        if isinstance(clean, bool) or not isinstance(clean, int) or clean < 1:
            problems.append(Problem(_line(item, "after_clean_rounds", line), "after_clean_rounds: a positive integer"))
            ok = False
        kind = "clean"
    elif item["by"] != "reviewer":
        problems.append(Problem(_line(item, "by", line), "by: only 'reviewer' is supported"))
        ok = False
    else:
        kind = "reviewer"
    if not ok or not isinstance(target, str):  # a target that is not text is an unknown state above
        return None
    sources = tuple(s for s in sources if s != target) if raw_from == "*" else tuple(sources)
    return Transition(number, sources, target, kind, expr, clean, restorative, line)


def _reachability(data: _Map, initial: str, states: dict[str, State], transitions: list[Transition]) -> list[Problem]:
    edges: dict[str, set[str]] = {s: set() for s in states}
    for t in transitions:
        for source in t.sources:
            edges[source].add(t.target)
    for state in states.values():
        if state.decay:
            edges[state.name].add(state.decay.to)
    seen, todo = {initial}, [initial]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return [
        Problem(state.line, f"state {state.name!r} is unreachable from the initial state {initial!r}")
        for state in states.values()
        if state.name not in seen
    ]


CLEAN_ATOMS = (Atom("violations.total", "==", 0), Atom("decisions.blocked", "==", 0))


def _conflicts(transitions: list[Transition]) -> list[Problem]:
    """Two automatic transitions out of one state, to different states, whose triggers can hold at once."""
    problems: list[Problem] = []
    automatic = [t for t in transitions if t.kind != "reviewer"]
    for i, a in enumerate(automatic):
        for b in automatic[i + 1:]:
            shared = set(a.sources) & set(b.sources)
            if not shared or a.target == b.target:
                continue
            if _can_fire_together(a, b):
                problems.append(Problem(
                    b.line,
                    f"transition to {b.target!r} (line {b.line}) can fire together with the transition to "
                    f"{a.target!r} (line {a.line}) from {sorted(shared)[0]!r}; make their conditions exclusive",
                ))
    return problems


def _can_fire_together(a: Transition, b: Transition) -> bool:
    if a.kind == "clean" and b.kind == "clean":
        return a.clean_rounds == b.clean_rounds
    if a.kind == "clean" or b.kind == "clean":
        when = b if a.kind == "clean" else a
        assert when.expr is not None  # an automatic transition that is not "clean" is a "when"
        return predicates.can_hold_together(when.expr, Expr(((),), ""), CLEAN_ATOMS)
    assert a.expr is not None and b.expr is not None  # both "when" transitions
    return predicates.can_hold_together(a.expr, b.expr)
