"""The JSON Schema side of argument constraints: compiled once, patterns under RE2, keywords checked.

A `when:` argument's schema is plain JSON Schema (draft 7) once Warden's own keywords are taken off
(arguments.py). Here it is checked for typos, given the types its bounds imply, and compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import fastjsonschema
import fastjsonschema.draft07

from apps.core.documents import PatternError, compile_pattern
from apps.policies.engine.source import Path

SCHEMA_KEYWORDS = {
    "type", "enum", "const", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
    "uniqueItems", "contains", "properties", "patternProperties", "additionalProperties", "required",
    "propertyNames", "minProperties", "maxProperties", "dependencies", "anyOf", "allOf", "oneOf", "not", "if",
    "then", "else", "title", "description", "default", "examples", "$comment",
}
SUBSCHEMA_KEYWORDS = {"items", "not", "additionalProperties", "additionalItems", "contains", "propertyNames",
                      "if", "then", "else"}
SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
NUMERIC_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
STRING_BOUNDS = ("pattern", "format", "minLength", "maxLength")

ArgCheck = Callable[[dict[str, Any]], str | None]
Fail = Callable[[str, Path], None]


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


def typed(schema: dict[str, Any], path: Path, fail: Fail) -> int:
    """Bounds imply their type, at every level of the schema; a contradicting type is an error."""
    problems = 0
    for keys, implied, allowed in ((NUMERIC_BOUNDS, "number", {"number", "integer", "null"}),
                                   (STRING_BOUNDS, "string", {"string", "null"})):
        used = [k for k in keys if k in schema]
        if not used:
            continue
        if "type" not in schema:
            schema["type"] = implied
            continue
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not set(types) <= allowed:
            fail(f"'{used[0]}' bounds a {implied}: drop 'type' or make it {implied}", path + ("type",))
            problems += 1
    for key in ("items", "not", "additionalProperties", "contains", "propertyNames"):
        if isinstance(schema.get(key), dict):
            schema[key] = dict(schema[key])
            problems += typed(schema[key], path + (key,), fail)
    for key in ("anyOf", "allOf", "oneOf"):
        if isinstance(schema.get(key), list):
            schema[key] = [dict(s) if isinstance(s, dict) else s for s in schema[key]]
            for i, sub in enumerate(schema[key]):
                if isinstance(sub, dict):
                    problems += typed(sub, path + (key, i), fail)
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = {k: dict(v) if isinstance(v, dict) else v for k, v in schema["properties"].items()}
        for name, sub in schema["properties"].items():
            if isinstance(sub, dict):
                problems += typed(sub, path + ("properties", name), fail)
    return problems


def check_schema(schema: dict[str, Any], path: Path, fail: Fail, reserved: Collection[str]) -> int:
    """Catches typos such as `maximun`, which a JSON Schema validator would silently ignore."""
    problems = 0
    for key, value in schema.items():
        at = path + (key,)
        message = _keyword_problem(key, value, reserved)
        if message:
            fail(message, at)
            problems += 1
        elif key == "patternProperties" and isinstance(value, dict):
            for pattern, sub in value.items():
                try:
                    compile_pattern(pattern)
                except PatternError as exc:
                    fail(f"'{pattern}' is not a regular expression RE2 can run: {exc}", at + (pattern,))
                    problems += 1
                if isinstance(sub, dict):
                    problems += check_schema(sub, at + (pattern,), fail, reserved)
        elif key in SUBSCHEMA_KEYWORDS and isinstance(value, dict):
            problems += check_schema(value, at, fail, reserved)
        elif key in ("anyOf", "allOf", "oneOf", "prefixItems") and isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, dict):
                    problems += check_schema(sub, at + (i,), fail, reserved)
        elif key == "properties" and isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, dict):
                    problems += check_schema(sub, at + (name,), fail, reserved)
    return problems


def _keyword_problem(key: str, value: Any, reserved: Collection[str]) -> str | None:
    if key in reserved:
        return f"'{key}' applies to an argument itself, not inside its schema"
    if key not in SCHEMA_KEYWORDS:
        return f"unknown JSON Schema keyword '{key}'"
    if key == "type":
        types = value if isinstance(value, list) else [value]
        if not types or any(t not in SCHEMA_TYPES for t in types):
            return f"'type' is one of {', '.join(sorted(SCHEMA_TYPES))}"
    elif key in NUMERIC_BOUNDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"'{key}' is a number"
    elif key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"'{key}' is a whole number >= 0"
    elif key == "enum" and (not isinstance(value, list) or not value):
        return "'enum' is a non-empty list of allowed values"
    elif key == "pattern":
        try:
            compile_pattern(value)
        except PatternError as exc:
            return f"'pattern' is not a regular expression RE2 can run: {exc}"
    return None


def case_folded(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as it applies to a lower-cased value: enum and const lower-cased, patterns (?i)."""
    out = dict(schema)
    if isinstance(out.get("enum"), list):
        out["enum"] = [v.lower() if isinstance(v, str) else v for v in out["enum"]]
    if isinstance(out.get("const"), str):
        out["const"] = out["const"].lower()
    if isinstance(out.get("pattern"), str):
        out["pattern"] = "(?i)" + out["pattern"]
    return out
