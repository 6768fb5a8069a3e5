"""An agent for any OpenAI-compatible chat-completions endpoint with tool calling.

    agent: {kind: llm, base_url: http://127.0.0.1:8080/v1, model: my-model,
            api_key_env: MY_KEY, temperature: 0, max_tokens: 512, timeout: 60}

The key is read from the environment variable the spec names (never stored). Each turn the agent
sends its conversation: the environment's instructions as the system message, what it sees as a
user message (the user's prompt in the suites, the market state as JSON in Cournot), its earlier
replies and one tool message per call it made (its result, its error, or the gate's verdict when the
call was blocked or rewritten). It calls tools until the model answers without one.

Every request and response is kept in `exchanges`, so `LLMAgent(config, replay=exchanges)` plays
the same episode again without the endpoint; a replay whose requests differ from the recorded ones
stops with `ReplayMismatch`. An endpoint that cannot be reached raises `EndpointUnreachable`.
Standard library HTTP only.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from apps.episodes.environments.base import (
    ALLOW,
    JSON,
    REWRITE,
    CallOutcome,
    Message,
    SpecError,
    ToolCall,
    spec_fields,
)


class LLMError(RuntimeError):
    """The model endpoint failed or answered something that is not a chat completion."""


class EndpointUnreachable(LLMError):
    pass


class ReplayMismatch(LLMError):
    pass


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = ""
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = 60.0

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], where: str = "agent") -> LLMConfig:
        spec_fields(spec, ("kind", "base_url", "model", "api_key_env", "temperature", "max_tokens", "timeout"), where)
        base_url = spec.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise SpecError(f"{where}.base_url", "an http(s) URL such as http://127.0.0.1:8080/v1")
        model = spec.get("model")
        if not isinstance(model, str) or not model:
            raise SpecError(f"{where}.model", "the model name the endpoint serves")
        key_env = spec.get("api_key_env", "")
        if not isinstance(key_env, str):
            raise SpecError(f"{where}.api_key_env", "the name of an environment variable")
        temperature = spec.get("temperature", 0.0)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise SpecError(f"{where}.temperature", "a number from 0 to 2")
        max_tokens = spec.get("max_tokens", 512)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 200_000:
            raise SpecError(f"{where}.max_tokens", "an integer from 1 to 200000")
        timeout = spec.get("timeout", 60.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
            raise SpecError(f"{where}.timeout", "seconds, more than 0 and at most 600")
        return cls(base_url=base_url.rstrip("/"), model=model, api_key_env=key_env, temperature=float(temperature),
                   max_tokens=max_tokens, timeout=float(timeout))


class LLMAgent:
    def __init__(self, config: LLMConfig, *, replay: Sequence[Mapping[str, Any]] | None = None):
        self.config = config
        self.replay = [dict(e) for e in replay] if replay is not None else None
        self.messages: list[dict[str, Any]] = []
        self.exchanges: list[dict[str, Any]] = []
        self.last_view: JSON = None
        self.pending_round: JSON = None
        self.seed = 0

    def reset(self, *, agent: str, seed: int, instructions: str) -> None:
        self.seed = seed
        self.messages = [{"role": "system", "content": instructions}] if instructions else []
        self.exchanges, self.last_view, self.pending_round = [], None, None

    def act(self, *, view: JSON, tools: list[dict[str, Any]]) -> list[Message | ToolCall]:
        # Within a turn the model answers its tool results; a new turn opens with what it now sees.
        continuing = bool(self.messages) and self.messages[-1]["role"] == "tool"
        if not continuing and view != self.last_view:
            self.last_view = view
            self.messages.append({"role": "user", "content": _render(view, self.pending_round)})
            self.pending_round = None
        body: dict[str, Any] = {"model": self.config.model, "messages": self.messages, "temperature": self.config.temperature,
                                "max_tokens": self.config.max_tokens, "seed": self.seed}
        if tools:
            body["tools"] = tools
        body = json.loads(json.dumps(body))  # what is sent is what is recorded, detached from our lists
        response = self._exchange(body)
        try:
            reply = response["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{self.config.base_url}: the answer has no choices[0].message") from None
        content = reply.get("content") or ""
        calls = reply.get("tool_calls") or []
        self.messages.append({"role": "assistant", "content": content or None, **({"tool_calls": calls} if calls else {})})
        items: list[Message | ToolCall] = [Message(content)] if content else []
        for call in calls:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {"_unparsed": function.get("arguments")}
            if not isinstance(arguments, dict):
                arguments = {"_unparsed": function.get("arguments")}
            items.append(ToolCall(str(function.get("name", "")), arguments, str(call.get("id", ""))))
        return items

    def observe(self, *, outcomes: Sequence[CallOutcome]) -> None:
        for outcome in outcomes:
            self.messages.append({"role": "tool", "tool_call_id": outcome.call.id, "content": _tool_text(outcome)})

    def observe_round(self, *, observation: JSON) -> None:
        self.pending_round = observation

    def snapshot(self) -> JSON:
        return json.loads(json.dumps({"messages": self.messages, "exchanges": self.exchanges, "last_view": self.last_view,
                                      "pending_round": self.pending_round, "seed": self.seed,
                                      "config": asdict(self.config)}))

    def restore(self, snapshot: JSON) -> None:
        self.messages, self.exchanges = list(snapshot["messages"]), list(snapshot["exchanges"])
        self.last_view, self.pending_round, self.seed = snapshot["last_view"], snapshot["pending_round"], snapshot["seed"]

    # --- transport ------------------------------------------------------------------------------

    def _exchange(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.replay is not None:
            position = len(self.exchanges)
            if position >= len(self.replay):
                raise ReplayMismatch(f"replay: the run asks for request {position + 1}, the recording has {len(self.replay)}")
            recorded = self.replay[position]
            if _canonical(recorded["request"]) != _canonical(body):
                raise ReplayMismatch(f"replay: request {position + 1} differs from the recorded one")
            response: dict[str, Any] = recorded["response"]
        else:
            response = self._post(body)
        self.exchanges.append({"request": body, "response": response})
        return response

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.config.base_url}/chat/completions"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise LLMError(f"agent.api_key_env: the environment variable {self.config.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            raise LLMError(f"{url} answered {exc.code}: {detail}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointUnreachable(f"agent.base_url: cannot reach {url} ({reason})") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise LLMError(f"{url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise LLMError(f"{url} did not answer a chat completion object")
        return data


def _render(view: JSON, pending_round: JSON) -> str:
    parts = []
    if pending_round is not None:
        parts.append("Result of the last round: " + json.dumps(pending_round, sort_keys=True))
    if isinstance(view, Mapping) and "prompt" in view:
        parts.append(str(view["prompt"]))
    else:
        parts.append("Current state: " + json.dumps(view, sort_keys=True))
    return "\n\n".join(parts)


def _tool_text(outcome: CallOutcome) -> str:
    verdict = outcome.verdict
    if outcome.result is None:
        return f"Not run: governance answered '{verdict.verdict}'" + (f": {verdict.message}" if verdict.message else "")
    result = outcome.result
    text = f"Error: {result.error}" if result.error else (
        result.result if isinstance(result.result, str) else json.dumps(result.result, sort_keys=True))
    if verdict.verdict == REWRITE and verdict.arguments != outcome.call.arguments:
        text = f"(governance rewrote the arguments to {json.dumps(verdict.arguments, sort_keys=True)})\n{text}"
    elif verdict.verdict != ALLOW:
        text = f"(governance: {verdict.verdict})\n{text}"
    return text


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
