"""Validates a policy document and compiles it. Every problem is reported with its rule, field and line.

    name: banking-least-privilege
    default: block                # or allow, or a fallback such as {action: ask, timeout: 60}
    rules:
      - id: small-transfers       # optional; defaults to "<tool>#<n>"
        tool: send_money          # exact name or glob ("read_*")
        effect: allow             # allow | deny
        priority: 10              # default 0; higher wins, deny wins ties
        when:                     # JSON Schema per argument (a constrained argument must be present
          amount: {type: number, maximum: 1000}   # unless its schema says optional: true), see arguments.py
        if: {untrusted: false}    # conditions on the episode context, see conditions.py
        fallback: {action: rewrite, clamp: {amount: {maximum: 1000}}}
      - message: user             # an outgoing message (to the user, or an agent by name or glob)
        effect: deny              # its text is the argument `content`
        if: {tainted: [content]}
    sensitive: [password, api_key]   # arguments masked wherever a call is shown or stored (every tool);
                                  # or per tool: {update_password: [old, new], "http_*": [headers]}
    tests: [...]                  # see testcases.py
"""

from __future__ import annotations

from typing import Any

from apps.core.documents import content_digest
from apps.policies.engine.arguments import WhenCompiler
from apps.policies.engine.conditions import ConditionCompiler
from apps.policies.engine.policy import (
    ALLOW,
    ASK,
    BLOCK,
    DENY,
    MESSAGE,
    REWRITE,
    TERMINATE,
    TOOL,
    CompiledPolicy,
    Fallback,
    Rule,
)
from apps.policies.engine.source import Document, Issue, Path, PolicyError, load
from apps.policies.engine.testcases import parse_tests

TOP_KEYS = ("name", "description", "default", "sensitive", "rules", "tests")
RULE_KEYS = ("id", "tool", "message", "effect", "priority", "when", "if", "fallback", "description")
FALLBACK_KEYS = ("action", "message", "set", "clamp", "drop", "timeout", "default")
ACTIONS = (BLOCK, REWRITE, ASK, TERMINATE)
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
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail("'description' is text", ("description",))
            description = ""
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
        sensitive = self._sensitive(data.get("sensitive", []))
        if self.narrowing and sensitive:  # recorded tool calls are masked by the project's policies only
            self.fail("'sensitive' belongs in the policy; a narrowing only takes permissions away", ("sensitive",))
        if self.issues:
            raise PolicyError(self.issues)
        return CompiledPolicy(name=str(name), digest=digest_of(data), default=default, rules=rules,
                              tests=tests, data=data, description=description.strip(), sensitive=sensitive)

    def _sensitive(self, value: Any) -> dict[str, frozenset[str]]:
        """`sensitive:` as {tool glob: argument names}; a list names arguments of every tool."""
        if value == []:
            return {}
        tools = {"*": value} if isinstance(value, list) else value
        if not isinstance(tools, dict):
            self.fail("'sensitive' lists argument names, or maps tools (or globs) to such lists", ("sensitive",))
            return {}
        out: dict[str, frozenset[str]] = {}
        for tool, names in tools.items():
            at: Path = ("sensitive",) if tools is not value else ("sensitive", tool)
            if not isinstance(tool, str) or not tool.strip():
                self.fail("a tool name or glob such as 'http_*'", at)
            elif not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
                self.fail("a list of argument names, such as [password, api_key]", at)
            else:
                out[tool] = frozenset(names)
        return out

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
        kind = MESSAGE if "message" in item and "tool" not in item else TOOL
        tool = item.get("message" if kind == MESSAGE else "tool")
        label = f"message:{tool}" if kind == MESSAGE else tool
        rule_id = item.get("id", f"{label}#{i + 1}" if isinstance(tool, str) else f"#{i + 1}")
        if not isinstance(rule_id, str) or not rule_id.strip():
            self.fail("'id' is a non-empty string (quote ids such as 'yes' or 'no')", path + ("id",))
            rule_id = f"#{i + 1}"
        self.rule = rule_id
        for key in item:
            if key not in RULE_KEYS:
                self.fail(f"unknown key '{key}'; use {', '.join(RULE_KEYS)}", path + (key,))
        if "message" in item and "tool" in item:
            self.fail("a rule governs a tool or a message, not both", path + ("message",))
        if kind == MESSAGE and (not isinstance(tool, str) or not tool.strip()):
            self.fail("'message' names the recipient: user, an agent, or a glob such as '*'", path + ("message",))
            tool = ""
        elif not isinstance(tool, str) or not tool.strip():
            self.fail("'tool' names a tool or a glob such as 'read_*'", path + ("tool",))
            tool = ""
        description = item.get("description", "")
        if not isinstance(description, str):
            self.fail("'description' is text", path + ("description",))
            description = ""
        effect = item.get("effect")
        if effect not in (ALLOW, DENY):
            self.fail("'effect' is allow or deny", path + ("effect",))
        priority = item.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            self.fail("'priority' is a whole number", path + ("priority",))
            priority = 0
        constraints = None
        if "when" in item:
            constraints = WhenCompiler(self.fail).compile(item["when"], path + ("when",))
        condition = explain = None
        reads = constraints is not None and constraints.uses_provenance
        if "if" in item:
            conditions = ConditionCompiler(self.issues, self.doc.line, rule_id)
            condition = conditions.compile(item["if"], path + ("if",))
            explain = conditions.explainer()
            reads = reads or conditions.reads_provenance
        fallback = self._fallback(item.get("fallback", BLOCK), path + ("fallback",))
        if effect == ALLOW and "fallback" in item and not ({"when", "if"} & item.keys()):
            self.fail("an allow rule's fallback applies when its 'when' or 'if' fails; add one of them",
                      path + ("fallback",))
        return Rule(id=rule_id, tool=tool, effect=str(effect), priority=priority, order=i, fallback=fallback,
                    constraints=constraints, condition=condition, line=self.doc.line(path), kind=kind,
                    description=description.strip(), explain=explain, reads_provenance=reads,
                    explicit_fallback=effect == ALLOW and "fallback" in item and "if" in item)

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
