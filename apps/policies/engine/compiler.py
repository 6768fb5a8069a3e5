"""Validates a policy document and compiles it. Every problem is reported with its rule, field and line.

    name: banking-least-privilege
    default: block                # or allow, or a fallback such as {action: ask, timeout: 60}
    rules:
      - id: small-transfers       # optional; defaults to "<tool>#<n>"
        tool: send_money          # exact name or glob ("read_*")
        effect: allow             # allow | deny
        priority: 10              # default 0; higher wins, deny wins ties
        when:                     # JSON Schema per argument (a constrained argument must be present
          amount: {type: number, maximum: 1000}   # unless its schema says optional: true)
        if: {untrusted: false}    # conditions on the episode context, see conditions.py
        fallback: {action: rewrite, clamp: {amount: {maximum: 1000}}}
    tests: [...]                  # see testcases.py
"""

from __future__ import annotations

from typing import Any

import fastjsonschema

from apps.core.documents import PatternError, compile_pattern, content_digest
from apps.policies.engine.conditions import ConditionCompiler
from apps.policies.engine.policy import (
    ALLOW,
    ASK,
    BLOCK,
    DENY,
    REWRITE,
    TERMINATE,
    ArgCheck,
    CompiledPolicy,
    Fallback,
    Rule,
    schema_check,
)
from apps.policies.engine.source import Document, Issue, Path, PolicyError, load
from apps.policies.engine.testcases import parse_tests

TOP_KEYS = ("name", "description", "default", "rules", "tests")
RULE_KEYS = ("id", "tool", "effect", "priority", "when", "if", "fallback", "description")
FALLBACK_KEYS = ("action", "message", "set", "clamp", "drop", "timeout", "default")
ACTIONS = (BLOCK, REWRITE, ASK, TERMINATE)
SCHEMA_KEYWORDS = {
    "type", "enum", "const", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "items", "prefixItems", "additionalItems", "minItems", "maxItems",
    "uniqueItems", "contains", "properties", "patternProperties", "additionalProperties", "required",
    "propertyNames", "minProperties", "maxProperties", "dependencies", "anyOf", "allOf", "oneOf", "not", "if",
    "then", "else", "title", "description", "default", "examples", "$comment", "optional",
}
SUBSCHEMA_KEYWORDS = {"items", "not", "additionalProperties", "additionalItems", "contains", "propertyNames",
                      "if", "then", "else"}
SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
MAX_ASK_TIMEOUT = 24 * 3600


def digest_of(data: Any) -> str:
    """Content hash of the parsed document: comments and layout do not change a policy's identity."""
    return content_digest(data)


def compile_policy(text: str, *, narrowing: bool = False) -> CompiledPolicy:
    """Parses and compiles policy text. Raises PolicyError listing every issue with rule, field and line.

    A narrowing (episode-scoped overlay) defaults to allow: it only lists what it takes away.
    """
    doc = load(text)
    return Compiler(doc, narrowing=narrowing).compile()


class Compiler:
    def __init__(self, doc: Document, *, narrowing: bool = False):
        self.doc = doc
        self.narrowing = narrowing
        self.issues: list[Issue] = []
        self.rule: str | None = None

    def fail(self, message: str, path: Path) -> None:
        self.issues.append(Issue(message, path, self.doc.line(path), self.rule))

    def compile(self) -> CompiledPolicy:
        data = self.doc.data
        if not isinstance(data, dict):
            raise PolicyError([Issue("a policy is a mapping with 'rules' (and name, default, tests)", (), 1)])
        for key in data:
            if key not in TOP_KEYS:
                self.fail(f"unknown key '{key}'; use {', '.join(TOP_KEYS)}", (key,))
        name = data.get("name", "narrowing" if self.narrowing else "")
        if not isinstance(name, str) or (not name.strip() and not self.narrowing):
            self.fail("give the policy a name", ("name",))
        default = self._default(data.get("default", ALLOW if self.narrowing else BLOCK))
        rules_data = data.get("rules", [])
        rules: list[Rule] = []
        if not isinstance(rules_data, list):
            self.fail("'rules' is a list of rules", ("rules",))
        else:
            ids: set[str] = set()
            for i, item in enumerate(rules_data):
                rule = self._rule(item, i)
                if rule is None:
                    continue
                if rule.id in ids:
                    self.fail(f"duplicate rule id '{rule.id}'", ("rules", i, "id"))
                ids.add(rule.id)
                rules.append(rule)
            self.rule = None
        self.rule = None  # test-case issues belong to no rule
        tests = parse_tests(data.get("tests", []), fail=self.fail, line=self.doc.line)
        if self.issues:
            raise PolicyError(self.issues)
        return CompiledPolicy(name=str(name), digest=digest_of(data), default=default, rules=rules,
                              tests=tests, data=data)

    def _default(self, value: Any) -> Fallback | None:
        if value == ALLOW:
            return None
        if value in (BLOCK, DENY):
            return Fallback(BLOCK)
        if isinstance(value, dict | str):
            return self._fallback(value, ("default",))
        self.fail("'default' is allow, block or a fallback such as {action: ask}", ("default",))
        return None

    def _rule(self, item: Any, i: int) -> Rule | None:
        path: Path = ("rules", i)
        self.rule = f"#{i + 1}"
        if not isinstance(item, dict):
            self.fail("a rule is a mapping with tool and effect", path)
            return None
        tool = item.get("tool")
        rule_id = item.get("id", f"{tool}#{i + 1}" if isinstance(tool, str) else f"#{i + 1}")
        if not isinstance(rule_id, str) or not rule_id.strip():
            self.fail("'id' is a non-empty string (quote ids such as 'yes' or 'no')", path + ("id",))
            rule_id = f"#{i + 1}"
        self.rule = rule_id
        for key in item:
            if key not in RULE_KEYS:
                self.fail(f"unknown key '{key}'; use {', '.join(RULE_KEYS)}", path + (key,))
        if not isinstance(tool, str) or not tool.strip():
            self.fail("'tool' names a tool or a glob such as 'read_*'", path + ("tool",))
            tool = ""
        effect = item.get("effect")
        if effect not in (ALLOW, DENY):
            self.fail("'effect' is allow or deny", path + ("effect",))
        priority = item.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.fail("'priority' is a whole number", path + ("priority",))
            priority = 0
        check = self._when(item["when"], path + ("when",)) if "when" in item else None
        condition = None
        if "if" in item:
            condition = ConditionCompiler(self.issues, self.doc.line, rule_id).compile(item["if"], path + ("if",))
        fallback = self._fallback(item.get("fallback", BLOCK), path + ("fallback",))
        if effect == ALLOW and "fallback" in item and check is None:
            self.fail("an allow rule's fallback only applies when its 'when' constraints fail; add 'when'",
                      path + ("fallback",))
        return Rule(id=rule_id, tool=tool, effect=str(effect), priority=priority, order=i, fallback=fallback,
                    check_args=check, condition=condition, line=self.doc.line(path))

    def _fallback(self, value: Any, path: Path) -> Fallback:
        if isinstance(value, str):
            value = {"action": value}
        if not isinstance(value, dict):
            self.fail("a fallback is a mapping such as {action: block, message: ...}", path)
            return Fallback()
        for key in value:
            if key not in FALLBACK_KEYS:
                self.fail(f"unknown key '{key}'; use {', '.join(FALLBACK_KEYS)}", path + (key,))
        action = value.get("action")
        if action not in ACTIONS:
            self.fail(f"'action' is one of {', '.join(ACTIONS)}", path + ("action",))
            action = BLOCK
        fb = Fallback(action=action)
        message = value.get("message", "")
        if not isinstance(message, str):
            self.fail("'message' is text returned to the agent", path + ("message",))
        else:
            fb.message = message
        self._rewrite_ops(value, fb, path)
        if action == REWRITE and not (fb.set or fb.clamp or fb.drop):
            self.fail("a rewrite needs at least one of set, clamp, drop", path)
        if action != REWRITE and ({"set", "clamp", "drop"} & value.keys()):
            self.fail("set, clamp and drop only apply to action: rewrite", path + ("action",))
        timeout = value.get("timeout", 60)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_ASK_TIMEOUT:
            self.fail(f"'timeout' is whole seconds between 1 and {MAX_ASK_TIMEOUT}", path + ("timeout",))
        else:
            fb.timeout = timeout
        default = value.get("default", BLOCK)
        if default not in (ALLOW, BLOCK, TERMINATE):
            self.fail("'default' (the verdict when an ask times out) is allow, block or terminate",
                      path + ("default",))
        else:
            fb.default = default
        if action != ASK and ({"timeout", "default"} & value.keys()):
            self.fail("timeout and default only apply to action: ask", path + ("action",))
        return fb

    def _rewrite_ops(self, value: dict[str, Any], fb: Fallback, path: Path) -> None:
        if "set" in value:
            if isinstance(value["set"], dict):
                fb.set = dict(value["set"])
            else:
                self.fail("'set' maps argument names to values", path + ("set",))
        if "drop" in value:
            drop = value["drop"]
            if isinstance(drop, list) and all(isinstance(d, str) for d in drop):
                fb.drop = tuple(drop)
            else:
                self.fail("'drop' is a list of argument names", path + ("drop",))
        if "clamp" in value:
            clamp = value["clamp"]
            if not isinstance(clamp, dict):
                self.fail("'clamp' maps argument names to {minimum, maximum, max_length}", path + ("clamp",))
                return
            for arg, bounds in clamp.items():
                at = path + ("clamp", arg)
                ok = isinstance(bounds, dict) and bounds and all(
                    k in ("minimum", "maximum", "max_length") and isinstance(v, int | float)
                    and not isinstance(v, bool) for k, v in bounds.items()
                )
                if not ok:
                    self.fail("clamp bounds are numbers under minimum, maximum or max_length", at)
                else:
                    fb.clamp[arg] = dict(bounds)

    def _when(self, value: Any, path: Path) -> ArgCheck | None:
        if not isinstance(value, dict) or not value:
            self.fail("'when' maps argument names to JSON Schemas, e.g. {amount: {maximum: 100}}", path)
            return None
        properties: dict[str, Any] = {}
        required: list[str] = []
        before = len(self.issues)
        for arg, schema in value.items():
            at = path + (arg,)
            if not isinstance(schema, dict):
                self.fail("an argument constraint is a JSON Schema mapping such as {type: string}", at)
                continue
            self._check_schema(schema, at)
            schema = dict(schema)
            if not schema.pop("optional", False):
                required.append(str(arg))
            properties[str(arg)] = schema
        if len(self.issues) > before:
            return None
        try:
            return schema_check({"type": "object", "properties": properties, "required": required})
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            self.fail(f"not a valid JSON Schema: {exc}", path)
        except Exception as exc:  # fastjsonschema surfaces bad regexes and values as assorted errors
            self.fail(f"not a valid JSON Schema: {exc}", path)
        return None

    def _check_schema(self, schema: dict[str, Any], path: Path) -> None:
        """Catches typos such as `maximun`, which a JSON Schema validator would silently ignore."""
        for key, value in schema.items():
            at = path + (key,)
            if key not in SCHEMA_KEYWORDS:
                self.fail(f"unknown JSON Schema keyword '{key}'", at)
            elif key == "type":
                types = value if isinstance(value, list) else [value]
                if not types or any(t not in SCHEMA_TYPES for t in types):
                    self.fail(f"'type' is one of {', '.join(sorted(SCHEMA_TYPES))}", at)
            elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.fail(f"'{key}' is a number", at)
            elif key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    self.fail(f"'{key}' is a whole number >= 0", at)
            elif key == "enum" and (not isinstance(value, list) or not value):
                self.fail("'enum' is a non-empty list of allowed values", at)
            elif key == "pattern":
                try:
                    compile_pattern(value)
                except PatternError as exc:
                    self.fail(f"'pattern' is not a regular expression RE2 can run: {exc}", at)
            elif key == "patternProperties" and isinstance(value, dict):
                for pattern, sub in value.items():
                    try:
                        compile_pattern(pattern)
                    except PatternError as exc:
                        self.fail(f"'{pattern}' is not a regular expression RE2 can run: {exc}", at + (pattern,))
                    if isinstance(sub, dict):
                        self._check_schema(sub, at + (pattern,))
            elif key in SUBSCHEMA_KEYWORDS and isinstance(value, dict):
                self._check_schema(value, at)
            elif key in ("anyOf", "allOf", "oneOf", "prefixItems") and isinstance(value, list):
                for i, sub in enumerate(value):
                    if isinstance(sub, dict):
                        self._check_schema(sub, at + (i,))
            elif key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    if isinstance(sub, dict):
                        self._check_schema(sub, at + (name,))
