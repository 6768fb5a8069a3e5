"""Argument constraints (`when:` of a rule): JSON Schema per argument plus a few keywords of Warden's.

    when:
      amount: {maximum: 1000}                          # a numeric bound implies a number: "5000" is refused
      recipient: {from: trusted}                       # every value in it appeared in trusted content
      to: {format: email, domain: [example.com]}       # the address's domain (or a subdomain of it)
      url: {format: url, domain: [bank.example]}       # the URL's host; the scheme may be left out
      body: {urls: {domain: [bank.example], from: trusted, max: 3}}   # the links inside a text
      name: {enum: [Alice, Bob], case: insensitive}    # enum, const and pattern ignore case
      cc: {type: array, optional: true}                # may be absent

Warden's keywords sit at the top of an argument's schema; the rest is compiled by fastjsonschema.
Bounds without a type imply one (minimum/maximum/multipleOf: a number; pattern/format/minLength/
maxLength: a string), so a value of another type can never slip past a bound JSON Schema would skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import fastjsonschema.draft07

from apps.core.documents import PatternError, compile_pattern
from apps.policies.engine import provenance
from apps.policies.engine.findings import NOUNS, Finding, Problem, describe
from apps.policies.engine.source import Path

SCHEMA_KEYWORDS = {
    "type", "enum", "const", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
    "uniqueItems", "contains", "properties", "patternProperties", "additionalProperties", "required",
    "propertyNames", "minProperties", "maxProperties", "dependencies", "anyOf", "allOf", "oneOf", "not", "if",
    "then", "else", "title", "description", "default", "examples", "$comment",
}
WARDEN_KEYWORDS = ("optional", "from", "domain", "urls", "case")
SUBSCHEMA_KEYWORDS = {"items", "not", "additionalProperties", "additionalItems", "contains", "propertyNames",
                      "if", "then", "else"}
SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
NUMERIC_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
STRING_BOUNDS = ("pattern", "format", "minLength", "maxLength")
URL_FORMATS = ("url", "uri")
ORIGINS = ("trusted", "user")

ArgCheck = Callable[[dict[str, Any]], str | None]
ValueCheck = Callable[[str, Any, "provenance.ProvenanceView | None"], Problem | None]  # (name, value, view)


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


@dataclass(slots=True)
class Constraints:
    """A rule's compiled `when`: the schema over all arguments, then Warden's per-argument checks."""

    schema: ArgCheck
    folded: tuple[str, ...] = ()  # arguments compared case-insensitively (lower-cased for the schema)
    checks: tuple[tuple[str, ValueCheck], ...] = ()
    uses_provenance: bool = False

    def check(self, arguments: dict[str, Any], view: provenance.ProvenanceView | None) -> Problem | None:
        seen = arguments
        if self.folded:
            seen = dict(arguments)
            for name in self.folded:
                value = seen.get(name)
                if isinstance(value, str):
                    seen[name] = value.lower()
        problem = self.schema(seen)
        if problem is not None:
            return Problem(problem)
        for name, check in self.checks:
            if name in arguments:
                found = check(name, arguments[name], view)
                if found is not None:
                    return found
        return None


class WhenCompiler:
    def __init__(self, fail: Callable[[str, Path], None]):
        self.fail = fail

    def compile(self, value: Any, path: Path) -> Constraints | None:
        if not isinstance(value, dict) or not value:
            self.fail("'when' maps argument names to JSON Schemas, e.g. {amount: {maximum: 100}}", path)
            return None
        properties: dict[str, Any] = {}
        required: list[str] = []
        folded: list[str] = []
        checks: list[tuple[str, ValueCheck]] = []
        uses_provenance = False
        problems = 0
        for arg, schema in value.items():
            at = path + (arg,)
            if not isinstance(schema, dict):
                self.fail("an argument constraint is a JSON Schema mapping such as {type: string}", at)
                problems += 1
                continue
            name = str(arg)
            schema = dict(schema)
            extra = {k: schema.pop(k) for k in WARDEN_KEYWORDS if k in schema}
            issues = self._check_schema(schema, at)
            if not extra.pop("optional", False):
                required.append(name)
            insensitive = self._case(extra.pop("case", None), at + ("case",))
            if insensitive:
                folded.append(name)
                schema = _folded(schema)
            fmt = schema.get("format")
            if fmt == "url":  # ours: with or without a scheme; JSON Schema's `uri` requires one
                schema.pop("format")
                checks.append((name, _url_format))
            for key, arg_value in extra.items():
                check = getattr(self, f"_{key}")(arg_value, at + (key,), fmt)
                if check is not None:
                    checks.append((name, check))
                    uses_provenance = uses_provenance or key in ("from", "urls")
            issues += self._typed(schema, at)
            problems += issues
            properties[name] = schema
        if problems:
            return None
        try:
            check = schema_check({"type": "object", "properties": properties, "required": required})
        except Exception as exc:  # fastjsonschema surfaces bad regexes and values as assorted errors
            self.fail(f"not a valid JSON Schema: {exc}", path)
            return None
        return Constraints(check, tuple(folded), tuple(checks), uses_provenance)

    # -- Warden's keywords --------------------------------------------------------------------

    def _case(self, value: Any, path: Path) -> bool:
        if value is None:
            return False
        if value not in ("insensitive", "sensitive"):
            self.fail("'case' is insensitive or sensitive", path)
            return False
        return bool(value == "insensitive")

    def _from(self, value: Any, path: Path, fmt: Any) -> ValueCheck | None:
        if value not in ORIGINS:
            self.fail(f"'from' is {' or '.join(ORIGINS)}", path)
            return None
        return _from_user if value == "user" else _from_trusted

    def _domain(self, value: Any, path: Path, fmt: Any) -> ValueCheck | None:
        domains = self._domains(value, path)
        if domains is None:
            return None
        host_of = _host_reader(fmt)

        def check(name: str, arg: Any, view: Any) -> Problem | None:
            host = host_of(arg) if isinstance(arg, str) else None
            if host is None:
                return Problem(f"argument {name}: {_show(arg)} has no domain to check")
            if not provenance.domain_matches(host, domains):
                return Problem(f"argument {name}: domain {host} is not one of {', '.join(domains)}")
            return None

        return check

    def _urls(self, value: Any, path: Path, fmt: Any) -> ValueCheck | None:
        if not isinstance(value, dict) or not value:
            self.fail("'urls' is a mapping with domain, from or max", path)
            return None
        for key in value:
            if key not in ("domain", "from", "max"):
                self.fail(f"unknown key '{key}'; use domain, from, max", path + (key,))
        domains = self._domains(value["domain"], path + ("domain",)) if "domain" in value else None
        trusted = "from" in value and self._from(value["from"], path + ("from",), None) is not None
        most = value.get("max")
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 0):
            self.fail("'max' is a whole number >= 0", path + ("max",))

        def check(name: str, arg: Any, view: provenance.ProvenanceView | None) -> Problem | None:
            links = [f for f in provenance.found_in(arg) if f.kind == "url"]
            if most is not None and len(links) > most:
                return Problem(f"argument {name}: {len(links)} links, at most {most} allowed")
            if domains is not None:
                for link in links:
                    host = provenance.url_parts(link.raw)
                    if host is None or not provenance.domain_matches(host[0], domains):
                        return Problem(f"argument {name}: link {link.raw} is not on {', '.join(domains)}")
            if trusted:
                return _not_trusted(name, links, view, "link")
            return None

        return check

    def _domains(self, value: Any, path: Path) -> tuple[str, ...] | None:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(d, str) and d.strip() for d in items):
            self.fail("'domain' is a domain or a list of them, such as [example.com]", path)
            return None
        return tuple(provenance.normal_domain(d) for d in items)

    # -- JSON Schema --------------------------------------------------------------------------

    def _typed(self, schema: dict[str, Any], path: Path) -> int:
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
                self.fail(f"'{used[0]}' bounds a {implied}: drop 'type' or make it {implied}", path + ("type",))
                problems += 1
        for key in ("items", "not", "additionalProperties", "contains", "propertyNames"):
            if isinstance(schema.get(key), dict):
                schema[key] = dict(schema[key])
                problems += self._typed(schema[key], path + (key,))
        for key in ("anyOf", "allOf", "oneOf"):
            if isinstance(schema.get(key), list):
                schema[key] = [dict(s) if isinstance(s, dict) else s for s in schema[key]]
                for i, sub in enumerate(schema[key]):
                    if isinstance(sub, dict):
                        problems += self._typed(sub, path + (key, i))
        if isinstance(schema.get("properties"), dict):
            schema["properties"] = {k: dict(v) if isinstance(v, dict) else v for k, v in schema["properties"].items()}
            for name, sub in schema["properties"].items():
                if isinstance(sub, dict):
                    problems += self._typed(sub, path + ("properties", name))
        return problems

    def _check_schema(self, schema: dict[str, Any], path: Path) -> int:
        """Catches typos such as `maximun`, which a JSON Schema validator would silently ignore."""
        problems = 0
        for key, value in schema.items():
            at = path + (key,)
            message = _keyword_problem(key, value)
            if message:
                self.fail(message, at)
                problems += 1
            elif key == "patternProperties" and isinstance(value, dict):
                for pattern, sub in value.items():
                    try:
                        compile_pattern(pattern)
                    except PatternError as exc:
                        self.fail(f"'{pattern}' is not a regular expression RE2 can run: {exc}", at + (pattern,))
                        problems += 1
                    if isinstance(sub, dict):
                        problems += self._check_schema(sub, at + (pattern,))
            elif key in SUBSCHEMA_KEYWORDS and isinstance(value, dict):
                problems += self._check_schema(value, at)
            elif key in ("anyOf", "allOf", "oneOf", "prefixItems") and isinstance(value, list):
                for i, sub in enumerate(value):
                    if isinstance(sub, dict):
                        problems += self._check_schema(sub, at + (i,))
            elif key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    if isinstance(sub, dict):
                        problems += self._check_schema(sub, at + (name,))
        return problems


def _keyword_problem(key: str, value: Any) -> str | None:
    if key in WARDEN_KEYWORDS:
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


def _folded(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as it applies to a lower-cased value: enum and const lower-cased, patterns (?i)."""
    out = dict(schema)
    if isinstance(out.get("enum"), list):
        out["enum"] = [v.lower() if isinstance(v, str) else v for v in out["enum"]]
    if isinstance(out.get("const"), str):
        out["const"] = out["const"].lower()
    if isinstance(out.get("pattern"), str):
        out["pattern"] = "(?i)" + out["pattern"]
    return out


def _host_reader(fmt: Any) -> Callable[[str], str | None]:
    if fmt == "email":
        return provenance.email_domain
    if fmt in URL_FORMATS:
        return _url_host
    if fmt == "hostname":
        return lambda text: provenance.normal_domain(text) or None
    return lambda text: provenance.email_domain(text) if "@" in text and "://" not in text else _url_host(text)


def _url_host(text: str) -> str | None:
    parts = provenance.url_parts(text)
    return parts[0] if parts else None


def _url_format(name: str, arg: Any, view: Any) -> Problem | None:
    host = _url_host(arg) if isinstance(arg, str) and " " not in arg.strip() else None
    if host and "." in host:
        return None
    return Problem(f"argument {name}: {_show(arg)} is not a URL")


def _from_trusted(name: str, arg: Any, view: provenance.ProvenanceView | None) -> Problem | None:
    found = provenance.argument_found(arg)
    if not found:
        return Problem(f"argument {name}: {_show(arg)} carries no value whose origin can be checked")
    return _not_trusted(name, found, view, None)


def _from_user(name: str, arg: Any, view: provenance.ProvenanceView | None) -> Problem | None:
    found = provenance.argument_found(arg)
    if not found:
        return Problem(f"argument {name}: {_show(arg)} carries no value whose origin can be checked")
    prefix = provenance.USER_PREFIX
    origins = view.origins([prefix + f.value for f in found] + [f.value for f in found]) if view else {}
    for item in found:
        if prefix + item.value in origins:
            continue
        finding = Finding.of(item, origins.get(item.value, provenance.UNSEEN), "from", name)
        where = f"; it first appeared in step {finding.step}, from {finding.source} (untrusted)" if finding.step else ""
        return Problem(f"argument {name}: this {NOUNS.get(finding.kind, finding.kind)} ({_show(item.raw)}) "
                       f"appears in none of the user's messages{where}", finding)
    return None


def _not_trusted(name: str, found: Sequence[provenance.Found], view: provenance.ProvenanceView | None,
                 noun: str | None) -> Problem | None:
    """A problem naming the first value that never appeared in trusted content, if any."""
    if not found:
        return None
    origins: Mapping[str, provenance.Origin] = view.origins([f.value for f in found]) if view else {}
    for item in found:
        origin = origins.get(item.value, provenance.UNSEEN)
        if origin.trusted:
            continue
        finding = Finding.of(item, origin, "from", name)
        return Problem(describe(finding, noun), finding)
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
