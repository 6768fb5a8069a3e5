"""HTTP client for Warden's decision and trace APIs. Standard library only (urllib).

Every write that can be retried safely carries an Idempotency-Key made once per logical call, so
the retries of transport.send (connection errors, 502/503/504, 429, honouring Retry-After) never
decide or record twice. When Warden stays unreachable, `on_unreachable` chooses: "block" (the
default, fail-closed: the call does not run) or "allow" (fail-open: it runs); either way the call
is logged locally (the `warden_client` logger, and `unreachable_log` as JSON Lines if given).
An ask that loses Warden while it waits for a reviewer is never run: `wait` raises AskUnanswered
(a WardenUnreachable naming the decision) and `guard` refuses the call as a block in either mode.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from warden_client import transport
from warden_client.transport import RetryPolicy, WardenError, WardenUnreachable

T = TypeVar("T")
MAX_WAIT_PER_POLL = 30  # the server's bound on one long-poll
UNREACHABLE_MODES = ("block", "allow")
logger = logging.getLogger("warden_client")


class Blocked(Exception):
    """The policy did not let the call run. `message` is meant for the agent."""

    def __init__(self, decision: Decision):
        super().__init__(decision.message or f"'{decision.tool}' was blocked by policy")
        self.decision = decision
        self.message = str(self)


class Terminated(Blocked):
    """The policy ended the episode: stop the agent."""


class AskUnanswered(WardenUnreachable):
    """Warden stopped answering while a call waited for a reviewer: it was not approved.
    `decision` is the pending ask as last seen."""

    def __init__(self, decision: Decision, cause: WardenUnreachable):
        message = (f"Warden is unreachable ({cause.message}) while decision {decision.decision_id} "
                   f"('{decision.tool}') waits for a reviewer; the call was not approved and must not run")
        super().__init__(cause.status, "ask_unanswered", message, cause.body, cause.retry_after)
        self.decision = decision


@dataclass
class Decision:
    decision_id: int | None  # None: made locally because Warden was unreachable (see `local`)
    episode: str
    tool: str
    verdict: str  # allow | block | rewrite | ask | terminate
    outcome: str  # what to do now: allow | block | rewrite | terminate (ask while pending)
    status: str  # decided | pending | approved | denied | timed_out
    arguments: dict[str, Any]
    message: str = ""
    rule: str | None = None
    policy: str | None = None
    step_index: int | None = None
    deadline: str | None = None
    # An answered ask: who answered (username, key:<name>, or "timeout"), when, and the reviewer's note.
    # `message` then says the same in a sentence meant for the agent.
    answered_by: str | None = None
    answered_at: str | None = None
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    local: bool = False  # Warden was unreachable: the client applied on_unreachable

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        return cls(
            decision_id=data["decision_id"], episode=data["episode"], tool=data["tool"], verdict=data["verdict"],
            outcome=data["outcome"], status=data["status"], arguments=data.get("arguments") or {},
            message=data.get("message") or "", rule=data.get("rule"), policy=data.get("policy"),
            step_index=data.get("step_index"), deadline=data.get("deadline"), answered_by=data.get("answered_by"),
            answered_at=data.get("answered_at"), note=data.get("note") or "", raw=data,
        )

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def allowed(self) -> bool:
        return self.outcome in ("allow", "rewrite")


class Warden:
    """`retries` (default 3), `backoff` and `max_backoff` bound the retries of ambiguous failures;
    `on_unreachable` is "block" (fail-closed, the default) or "allow" (fail-open); `unreachable_log`
    names a file that gets one JSON line per call decided or recorded without Warden."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.25, max_backoff: float = 8.0,
                 on_unreachable: Literal["block", "allow"] = "block",
                 unreachable_log: str | os.PathLike[str] | None = None):
        if on_unreachable not in UNREACHABLE_MODES:
            raise ValueError(f"on_unreachable must be 'block' or 'allow', not {on_unreachable!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retry = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self.on_unreachable = on_unreachable
        self.unreachable_log = unreachable_log
        self._log_lock = threading.Lock()

    # -- HTTP -------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, *, timeout: float | None = None,
                idempotency_key: str | None = None) -> Any:
        """One API call. GETs, and POSTs given an `idempotency_key`, are retried after ambiguous
        failures; raises WardenUnreachable when there was no answer, WardenError for a refusal."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return transport.send(f"{self.base_url}/api/v1/{path.lstrip('/')}", method, headers,
                    json.dumps(body).encode() if body is not None else None, timeout=timeout or self.timeout,
                    policy=self.retry, idempotent=method == "GET" or idempotency_key is not None)

    # -- decisions --------------------------------------------------------------------------
    def decide(self, *, episode: str, tool: str, arguments: dict[str, Any] | None = None, agent: str = "",
               step_index: int | None = None, untrusted: bool = False, environment: str | None = None,
               idempotency_key: str | None = None) -> Decision:
        """Asks whether `tool` may run with `arguments`. Framework-neutral: act on `.outcome`.

        Retried under one idempotency key (made here unless given); if Warden stays unreachable,
        a local decision by `on_unreachable` (`.local` is True)."""
        context: dict[str, Any] = {"untrusted": untrusted}
        if environment:
            context["environment"] = environment
        body: dict[str, Any] = {"episode": episode, "agent": agent, "tool": tool, "arguments": arguments or {},
                                "context": context}
        if step_index is not None:
            body["step_index"] = step_index
        return self._decision("decide", body, tool, idempotency_key)

    def decide_message(self, *, episode: str, content: str, agent: str = "", to: str = "user",
                       step_index: int | None = None, untrusted: bool = False,
                       environment: str | None = None, idempotency_key: str | None = None) -> Decision:
        """Asks whether an outgoing message may be sent (`to`: user, or an agent's name)."""
        context: dict[str, Any] = {"untrusted": untrusted}
        if environment:
            context["environment"] = environment
        body: dict[str, Any] = {"episode": episode, "agent": agent, "content": content, "to": to, "context": context}
        if step_index is not None:
            body["step_index"] = step_index
        return self._decision("decide/message", body, to, idempotency_key)

    def _decision(self, path: str, body: dict[str, Any], tool: str, idempotency_key: str | None) -> Decision:
        try:
            return Decision.from_json(self.request("POST", path, body, idempotency_key=idempotency_key or _new_key()))
        except WardenUnreachable as exc:
            return self._local_decision(path, body, tool, exc)

    def _local_decision(self, path: str, body: dict[str, Any], tool: str, exc: WardenUnreachable) -> Decision:
        """What on_unreachable says, logged locally."""
        verdict = "allow" if self.on_unreachable == "allow" else "block"
        self._log_locally(path, {**body, "verdict": verdict}, exc)
        message = "" if verdict == "allow" else f"Warden is unreachable ({exc.message}); the call was not run"
        arguments = body.get("arguments") or {k: body[k] for k in ("content", "to") if k in body}
        return Decision(decision_id=None, episode=body["episode"], tool=tool, verdict=verdict, outcome=verdict,
                        status="unreachable", arguments=arguments, message=message, local=True)

    def _log_locally(self, what: str, data: dict[str, Any], exc: WardenError) -> None:
        logger.warning("Warden unreachable (%s %s); on_unreachable=%s: %s %s", exc.status, exc.message,
                       self.on_unreachable, what, json.dumps(data, default=str)[:2000])
        if self.unreachable_log is None:
            return
        now = datetime.now(timezone.utc)  # noqa: UP017 - the client supports Python 3.10 (no datetime.UTC)
        line = json.dumps({"at": now.isoformat(), "what": what, "mode": self.on_unreachable,
                           "error": f"{exc.status} {exc.message}", **data}, default=str)
        with self._log_lock, open(self.unreachable_log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def decision(self, decision_id: int, *, wait: float = 0) -> Decision:
        wait = max(0.0, min(wait, MAX_WAIT_PER_POLL))
        query = f"?wait={wait:g}" if wait else ""
        answer = self.request("GET", f"decisions/{decision_id}{query}", timeout=self.timeout + wait)
        if not (isinstance(answer, dict) and answer.get("decision_id") == decision_id
                and all(k in answer for k in ("episode", "tool", "verdict", "outcome", "status"))):
            # A proxy's answer in place of Warden's (an empty 200, another JSON): no answer at all.
            raise WardenUnreachable(0, "unreachable", f"the answer for decision {decision_id} was not Warden's")
        return Decision.from_json(answer)

    def wait(self, decision: Decision, *, timeout: float | None = None) -> Decision:
        """Waits for a reviewer's answer to an ask (or its deadline's default) with bounded long-polls.

        Raises AskUnanswered (a WardenUnreachable) when Warden stops answering meanwhile: the
        retries of each poll are spent and no answer came, so the call has not been approved."""
        give_up = time.monotonic() + timeout if timeout is not None else None
        while decision.pending:
            remaining = MAX_WAIT_PER_POLL if give_up is None else give_up - time.monotonic()
            if remaining <= 0:
                break
            assert decision.decision_id is not None  # only Warden's decisions are ever pending
            try:
                decision = self.decision(decision.decision_id, wait=min(MAX_WAIT_PER_POLL, remaining))
            except WardenUnreachable as exc:
                raise AskUnanswered(decision, exc) from None
        return decision

    def narrow(self, *, episode: str, policy: str) -> list[str]:
        """Narrows the policy for one episode (YAML/JSON text); it can only take permissions away."""
        return self.request("POST", "narrow", {"episode": episode, "policy": policy})["narrowings"]

    # -- traces -----------------------------------------------------------------------------
    def record_steps(self, *, episode: str, steps: list[dict[str, Any]],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """Appends steps (no index: the server numbers them). Needs the `ingest` scope.

        Retried under one idempotency key, so a batch is appended once however often it is sent."""
        return self.request("POST", f"episodes/{urllib.parse.quote(episode, safe='')}/steps", {"steps": steps},
                            idempotency_key=idempotency_key or _new_key())

    def _record(self, episode: str, steps: list[dict[str, Any]]) -> None:
        """record_steps for a call that has run: without Warden, the steps are logged locally."""
        try:
            self.record_steps(episode=episode, steps=steps)
        except WardenUnreachable as exc:
            self._log_locally("steps", {"episode": episode, "steps": steps}, exc)

    def end_episode(self, *, episode: str, status: str = "completed", outcome: dict | None = None) -> dict:
        return self.request("POST", f"episodes/{urllib.parse.quote(episode, safe='')}/end",
                            {"status": status, "outcome": outcome or {}})

    # -- guard ------------------------------------------------------------------------------
    def guard(self, fn: Callable[..., T], *, episode: str, agent: str = "", name: str | None = None,
              untrusted_output: bool = False, source: str | None = None,
              on_block: Literal["raise", "return"] = "raise", ask_timeout: float | None = None) -> Callable[..., T | str]:
        """Wraps a tool so every call is decided first and recorded as action + observation steps.

        allow runs the call; rewrite runs it with the policy's arguments; ask waits for a reviewer;
        block raises Blocked (or returns its message with on_block="return"); terminate raises
        Terminated. `untrusted_output` labels the tool's results untrusted, `source` says what they
        are (web, email, file...), which provenance conditions can name.
        """
        tool = name or getattr(fn, "__name__", "tool")
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> T | str:
            bound = signature.bind(*args, **kwargs)
            arguments = dict(bound.arguments)
            decision = self._settled(self.decide(episode=episode, agent=agent, tool=tool, arguments=arguments),
                                     ask_timeout=ask_timeout)
            if not decision.allowed:
                return _refused(decision, on_block, f"'{tool}' was blocked by policy")
            final = decision.arguments if decision.outcome == "rewrite" else arguments
            action = {"kind": "action", "actor": "agent", "agent": agent, "tool": tool, "arguments": final,
                      "attributes": {"decision_id": decision.decision_id}}
            try:
                result = fn(**final)
            except Exception as exc:
                self._record(episode, [action, _observation(tool, None, exc, untrusted_output, source)])
                raise
            self._record(episode, [action, _observation(tool, result, None, untrusted_output, source)])
            return result

        return guarded

    def _settled(self, decision: Decision, *, ask_timeout: float | None) -> Decision:
        """The decision once an ask is answered (or waited out); Terminated if the episode must end.

        Warden unreachable while an ask waits: a local block whatever `on_unreachable` says (the
        policy wanted a person to approve this call, and none did), logged locally."""
        if decision.pending:
            try:
                decision = self.wait(decision, timeout=ask_timeout)
            except AskUnanswered as exc:
                self._log_locally("ask", {"decision_id": exc.decision.decision_id, "episode": exc.decision.episode,
                                          "tool": exc.decision.tool, "verdict": "block"}, exc)
                return Decision(decision_id=exc.decision.decision_id, episode=exc.decision.episode,
                                tool=exc.decision.tool, verdict=exc.decision.verdict, outcome="block",
                                status="unreachable", arguments=exc.decision.arguments, message=exc.message,
                                rule=exc.decision.rule, policy=exc.decision.policy, local=True)
        if decision.outcome == "terminate":
            raise Terminated(decision)
        return decision

    def guard_message(self, send: Callable[[str], T], *, episode: str, agent: str = "", to: str = "user",
                      on_block: Literal["raise", "return"] = "raise",
                      ask_timeout: float | None = None) -> Callable[[str], T | str]:
        """Wraps the function that sends an agent's message: each message is decided first, then sent
        (with the policy's text if it was rewritten) and recorded as a message step.

        block raises Blocked (or returns the block message with on_block="return", nothing sent);
        terminate raises Terminated; ask waits for a reviewer.
        """

        @functools.wraps(send)
        def guarded(content: str) -> T | str:
            decision = self._settled(self.decide_message(episode=episode, agent=agent, content=content, to=to),
                                     ask_timeout=ask_timeout)
            if not decision.allowed:
                return _refused(decision, on_block, "the message was blocked by policy")
            final = str(decision.arguments.get("content", content)) if decision.outcome == "rewrite" else content
            result = send(final)
            self._record(episode, [{
                "kind": "message", "actor": "agent", "agent": agent, "role": "assistant", "content": final,
                "attributes": {"decision_id": decision.decision_id, "to": to}}])
            return result

        return guarded


def _new_key() -> str:
    return str(uuid.uuid4())


def _refused(decision: Decision, on_block: str, fallback_message: str) -> str:
    """A refusal: raised as Blocked, or its message handed back to the agent with on_block="return"."""
    if on_block == "return":
        return decision.message or fallback_message
    raise Blocked(decision)


def _observation(tool: str, result: Any, error: BaseException | None, untrusted: bool,
                 source: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"kind": "observation", "actor": "tool", "tool": tool,
                            "provenance": "untrusted" if untrusted else "trusted"}
    if source:
        step["source"] = source
    if error is not None:
        step["error"] = f"{type(error).__name__}: {error}"[:20_000]
        return step
    try:
        json.dumps(result)
        step["result"] = result if isinstance(result, dict) else {"value": result}
    except (TypeError, ValueError):
        step["result"] = None
    step["content"] = str(result)[:100_000]
    return step
