"""Argument constraints (`when:` of a rule): JSON Schema per argument plus a few keywords of Warden's.

    when:
      amount: {maximum: 1000}                          # a numeric bound implies a number: "5000" is refused
      recipient: {from: trusted}                       # every value in it appeared in trusted content
      payee: {from: [user, "bank:read_file"]}          # ... in the user's messages or a file the agent read
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
from fnmatch import fnmatchcase
from typing import Any

from apps.policies.engine import values
from apps.policies.engine.findings import NOUNS, Finding, Problem, describe
from apps.policies.engine.provenance import UNSEEN, USER_PREFIX, Origin, ProvenanceView
from apps.policies.engine.schema import ArgCheck, case_folded, check_schema, schema_check, typed
from apps.policies.engine.source import Path

WARDEN_KEYWORDS = ("optional", "from", "domain", "urls", "case")
URL_FORMATS = ("url", "uri")
ORIGINS = ("trusted", "user")

ValueCheck = Callable[[str, Any, "ProvenanceView | None"], Problem | None]  # (name, value, view)


@dataclass(slots=True)
class Constraints:
    """A rule's compiled `when`: the schema over all arguments, then Warden's per-argument checks."""

    schema: ArgCheck
    folded: tuple[str, ...] = ()  # arguments compared case-insensitively (lower-cased for the schema)
    checks: tuple[tuple[str, ValueCheck], ...] = ()
    uses_provenance: bool = False

    def check(self, arguments: dict[str, Any], view: ProvenanceView | None) -> Problem | None:
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
            issues = check_schema(schema, at, self.fail, WARDEN_KEYWORDS)
            if not extra.pop("optional", False):
                required.append(name)
            insensitive = self._case(extra.pop("case", None), at + ("case",))
            if insensitive:
                folded.append(name)
                schema = case_folded(schema)
            fmt = schema.get("format")
            if fmt == "url":  # ours: with or without a scheme; JSON Schema's `uri` requires one
                schema.pop("format")
                checks.append((name, _url_format))
            for key, arg_value in extra.items():
                check = getattr(self, f"_{key}")(arg_value, at + (key,), fmt)
                if check is not None:
                    checks.append((name, check))
                    uses_provenance = uses_provenance or key in ("from", "urls")
            issues += typed(schema, at, self.fail)
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
        if isinstance(value, list):
            return self._from_any(value, path)
        if value not in ORIGINS:
            self.fail(f"'from' is {' or '.join(ORIGINS)}, or a list of those and untrusted sources", path)
            return None
        return _from_user if value == "user" else _from_trusted

    def _from_any(self, value: list[Any], path: Path) -> ValueCheck | None:
        """`from: [user, "bank:read_file"]`: each value appeared in the user's messages (or trusted
        content), or first appeared, among untrusted content, in one of the named sources (globs)."""
        if not value or not all(isinstance(v, str) and v for v in value):
            self.fail("'from' lists trusted or user and the untrusted sources it also accepts, "
                      "e.g. [user, 'bank:read_file']", path)
            return None
        kinds = [v for v in value if v in ORIGINS]
        if len(kinds) > 1:
            self.fail("'from' names trusted or user, not both (user is the narrower)", path)
        sources = tuple(v for v in value if v not in ORIGINS)
        user = kinds == ["user"]

        def check(name: str, arg: Any, view: ProvenanceView | None) -> Problem | None:
            found = values.argument_found(arg)
            if not found:
                return Problem(f"argument {name}: {_show(arg)} carries no value whose origin can be checked")
            keys = [f.value for f in found]
            origins = view.origins(keys + [USER_PREFIX + k for k in keys] if user else keys) if view else {}
            for item in found:
                origin = origins.get(item.value, UNSEEN)
                if (user and USER_PREFIX + item.value in origins) or (kinds == ["trusted"] and origin.trusted):
                    continue
                if origin.untrusted_step is not None and any(fnmatchcase(origin.untrusted_source, s) for s in sources):
                    continue
                finding = Finding.of(item, origin, "from", name)
                where = (f"; it first appeared in step {finding.step}, from {finding.source} (untrusted)"
                         if finding.step is not None else "")
                return Problem(f"argument {name}: this {NOUNS.get(finding.kind, finding.kind)} ({_show(item.raw)}) "
                               f"appears in neither {' nor '.join(kinds + list(sources))}{where}", finding)
            return None

        return check

    def _domain(self, value: Any, path: Path, fmt: Any) -> ValueCheck | None:
        domains = self._domains(value, path)
        if domains is None:
            return None
        host_of = _host_reader(fmt)

        def check(name: str, arg: Any, view: Any) -> Problem | None:
            host = host_of(arg) if isinstance(arg, str) else None
            if host is None:
                return Problem(f"argument {name}: {_show(arg)} has no domain to check")
            if not values.domain_matches(host, domains):
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
        if isinstance(value.get("from"), list):
            self.fail("'from' of urls is trusted or user", path + ("from",))
        trusted = "from" in value and self._from(value["from"], path + ("from",), None) is not None
        most = value.get("max")
        if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 0):
            self.fail("'max' is a whole number >= 0", path + ("max",))

        def check(name: str, arg: Any, view: ProvenanceView | None) -> Problem | None:
            links = [f for f in values.found_in(arg) if f.kind == "url"]
            if most is not None and len(links) > most:
                return Problem(f"argument {name}: {len(links)} links, at most {most} allowed")
            if domains is not None:
                for link in links:
                    host = values.url_parts(link.raw)
                    if host is None or not values.domain_matches(host[0], domains):
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
        return tuple(values.normal_domain(d) for d in items)

def _host_reader(fmt: Any) -> Callable[[str], str | None]:
    if fmt == "email":
        return values.email_domain
    if fmt in URL_FORMATS:
        return _url_host
    if fmt == "hostname":
        return lambda text: values.normal_domain(text) or None
    return lambda text: values.email_domain(text) if "@" in text and "://" not in text else _url_host(text)


def _url_host(text: str) -> str | None:
    parts = values.url_parts(text)
    return parts[0] if parts else None


def _url_format(name: str, arg: Any, view: Any) -> Problem | None:
    host = _url_host(arg) if isinstance(arg, str) and " " not in arg.strip() else None
    if host and "." in host:
        return None
    return Problem(f"argument {name}: {_show(arg)} is not a URL")


def _from_trusted(name: str, arg: Any, view: ProvenanceView | None) -> Problem | None:
    found = values.argument_found(arg)
    if not found:
        return Problem(f"argument {name}: {_show(arg)} carries no value whose origin can be checked")
    return _not_trusted(name, found, view, None)


def _from_user(name: str, arg: Any, view: ProvenanceView | None) -> Problem | None:
    found = values.argument_found(arg)
    if not found:
        return Problem(f"argument {name}: {_show(arg)} carries no value whose origin can be checked")
    prefix = USER_PREFIX
    origins = view.origins([prefix + f.value for f in found] + [f.value for f in found]) if view else {}
    for item in found:
        if prefix + item.value in origins:
            continue
        finding = Finding.of(item, origins.get(item.value, UNSEEN), "from", name)
        where = f"; it first appeared in step {finding.step}, from {finding.source} (untrusted)" if finding.step else ""
        return Problem(f"argument {name}: this {NOUNS.get(finding.kind, finding.kind)} ({_show(item.raw)}) "
                       f"appears in none of the user's messages{where}", finding)
    return None


def _not_trusted(name: str, found: Sequence[values.Found], view: ProvenanceView | None,
                 noun: str | None) -> Problem | None:
    """A problem naming the first value that never appeared in trusted content, if any."""
    if not found:
        return None
    origins: Mapping[str, Origin] = view.origins([f.value for f in found]) if view else {}
    for item in found:
        origin = origins.get(item.value, UNSEEN)
        if origin.trusted_step is not None:
            continue
        finding = Finding.of(item, origin, "from", name)
        return Problem(describe(finding, noun), finding)
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
