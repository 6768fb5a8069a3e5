"""Test cases a policy carries, checked before the policy is trusted (offline verification).

    tests:
      - name: small transfer to a known recipient is allowed
        call: {tool: send_money, agent: banker, arguments: {recipient: UK1, amount: 50}}
        context: {untrusted: false, calls: {send_money: 1}, state: good, time: "2026-01-05T10:00:00Z"}
        expect: allow                      # or {verdict: rewrite, arguments: {...}, rule: cap}
      - name: a link only a web page carried is not passed on
        call: {message: "Log in at https://evil.example", to: user}   # an outgoing message
        context:
          trace:                           # earlier steps; provenance conditions read their values
            - {kind: message, actor: user, content: "Summarise my inbox"}
            - {kind: observation, provenance: untrusted, source: email, content: "https://evil.example"}
        expect: block
Context keys: untrusted, calls (earlier allowed calls per tool), steps, environment, state,
suspended, revoked_tools, arg_bounds, time (ISO 8601), trace (steps, numbered from 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.policies.engine.policy import MESSAGE, VERDICTS, Call, CompiledPolicy, Context, Verdict, decide
from apps.policies.engine.provenance import ProvenanceIndex

CONTEXT_KEYS = ("untrusted", "calls", "steps", "environment", "state", "suspended", "revoked_tools",
                "arg_bounds", "time", "trace")
TRACE_KEYS = ("kind", "actor", "role", "content", "result", "provenance", "source", "tool")
EXPECT_KEYS = ("verdict", "arguments", "rule", "message")


@dataclass
class TestCase:
    name: str
    call: Call
    context: Context
    expect: dict[str, Any]
    line: int | None = None


@dataclass
class TestResult:
    case: TestCase
    got: Verdict
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        where = f" (line {self.case.line})" if self.case.line else ""
        if self.passed:
            return f"PASS {self.case.name}{where}"
        return f"FAIL {self.case.name}{where}: {'; '.join(self.failures)}"


def context_from(data: dict[str, Any] | None) -> Context:
    """Builds a Context from plain data (test cases, API input). Assumes the data was validated."""
    data = data or {}
    now = data.get("time")
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    if isinstance(now, datetime) and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return Context(
        untrusted=bool(data.get("untrusted", False)),
        counts=dict(data.get("calls") or {}),
        steps=int(data.get("steps") or 0),
        environment=str(data.get("environment") or ""),
        state=data.get("state"),
        suspended=bool(data.get("suspended", False)),
        revoked_tools=list(data.get("revoked_tools") or []),
        arg_bounds=dict(data.get("arg_bounds") or {}),
        now=now,
        provenance=ProvenanceIndex({**step, "index": i} for i, step in enumerate(data.get("trace") or ())),
    )


def context_problems(data: Any) -> list[tuple[str, str]]:
    """(key, message) for every malformed context entry; shared by test cases and the decide API."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return [("", "context is a mapping")]
    out = []
    for key, value in data.items():
        if key not in CONTEXT_KEYS:
            out.append((key, f"unknown context key; use {', '.join(CONTEXT_KEYS)}"))
        elif key in ("untrusted", "suspended") and not isinstance(value, bool):
            out.append((key, "true or false"))
        elif key == "calls" and not (isinstance(value, dict) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values())):
            out.append((key, "maps tool names to counts"))
        elif key == "steps" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            out.append((key, "a whole number >= 0"))
        elif key == "revoked_tools" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            out.append((key, "a list of tool globs"))
        elif key == "arg_bounds" and not (isinstance(value, dict) and all(
                isinstance(v, dict) and all(isinstance(s, dict) for s in v.values()) for v in value.values())):
            out.append((key, "maps tool globs to {argument: JSON Schema}"))
        elif key in ("environment", "state") and value is not None and not isinstance(value, str):
            out.append((key, "text"))
        elif key == "trace" and not (isinstance(value, list) and all(
                isinstance(s, dict) and s.keys() <= set(TRACE_KEYS) for s in value)):
            out.append((key, f"a list of steps with {', '.join(TRACE_KEYS)}"))
        elif key == "time":
            try:
                datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                out.append((key, "an ISO 8601 time such as 2026-01-05T10:00:00Z"))
    return out


def parse_tests(data: Any, *, fail: Callable[[str, tuple[Any, ...]], None],
                line: Callable[[tuple[Any, ...]], int | None]
                ) -> list[TestCase]:
    if not isinstance(data, list):
        fail("'tests' is a list of test cases", ("tests",))
        return []
    cases = []
    for i, item in enumerate(data):
        path = ("tests", i)
        if not isinstance(item, dict):
            fail("a test case is a mapping with name, call and expect", path)
            continue
        for key in item:
            if key not in ("name", "call", "context", "expect"):
                fail(f"unknown key '{key}'; use name, call, context, expect", path + (key,))
        name = item.get("name") or f"test {i + 1}"
        call = item.get("call")
        if isinstance(call, dict) and isinstance(call.get("message"), str) and "tool" not in call:
            to = str(call.get("to") or "user")
            call = {"tool": to, "agent": call.get("agent"), "kind": MESSAGE,
                    "arguments": {"content": call["message"], "to": to}}
        if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
            fail("'call' needs a tool (and arguments, agent) or a message (and to)", path + ("call",))
            continue
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            fail("'arguments' is a mapping", path + ("call", "arguments"))
            continue
        for key, message in context_problems(item.get("context")):
            fail(message, path + ("context",) + ((key,) if key else ()))
        expect = item.get("expect")
        if isinstance(expect, str):
            expect = {"verdict": expect}
        if not isinstance(expect, dict) or expect.get("verdict") not in VERDICTS:
            fail(f"'expect' is a verdict ({', '.join(VERDICTS)}) or {{verdict, arguments, rule}}",
                          path + ("expect",))
            continue
        unknown = [k for k in expect if k not in EXPECT_KEYS]
        if unknown:
            fail(f"unknown key '{unknown[0]}' in expect; use {', '.join(EXPECT_KEYS)}",
                          path + ("expect", unknown[0]))
            continue
        cases.append(TestCase(
            name=str(name), call=Call(call["tool"], arguments, str(call.get("agent") or ""), call.get("kind", "tool")),
            context=context_from(item.get("context")) if not context_problems(item.get("context")) else Context(),
            expect=expect, line=line(path),
        ))
    return cases


def run_tests(policy: CompiledPolicy) -> list[TestResult]:
    results = []
    for case in policy.tests:
        got = decide(policy, Call(case.call.tool, dict(case.call.arguments), case.call.agent, case.call.kind),
                     case.context)
        failures = []
        for key, want in case.expect.items():
            have = getattr(got, key)
            if have != want:
                failures.append(f"expected {key} {want!r}, got {have!r}")
        results.append(TestResult(case, got, failures))
    return results
