"""Plain OTLP spans (see decode.py) to episodes and message-action steps. No Django import.

One trace, or one conversation (`gen_ai.conversation.id`, OpenInference `session.id`), becomes one
episode. GenAI semantic conventions, current and older names, and OpenInference map as follows:

    execute_tool / TOOL span      -> action (tool, arguments) + observation (result, error)
    chat / text_completion / LLM  -> user message (if the last input is the user's) + assistant message
    RETRIEVER span                -> action (query) + observation (documents, untrusted by default)
    invoke_agent / AGENT / CHAIN  -> no step; names the agent of the spans under it, titles the episode,
                                     its attributes are kept in the episode's config["otel"]
    anything else                 -> not a step (HTTP, DB spans of the same trace)

Attributes the mapping does not read are kept in the first step's `attributes`, never dropped.
`warden.provenance` / `warden.source` on a span set the step's provenance label.
"""

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from apps.traces import schema
from apps.traces.otlp.messages import indexed, loads, messages

OP = "gen_ai.operation.name"
TOOL_OPS = {"execute_tool"}
CHAT_OPS = {"chat", "text_completion", "generate_content", "completion"}
AGENT_OPS = {"invoke_agent", "create_agent", "invoke_workflow"}
OI_KIND = "openinference.span.kind"

MAX_NAME = 200  # episode external ids, agent and tool names
CONVERSATION_KEYS = ("gen_ai.conversation.id", "session.id", "conversation.id")
AGENT_KEYS = ("gen_ai.agent.name", "agent.name")
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total")
TOOL_NAME_KEYS = ("gen_ai.tool.name", "tool.name")
TOOL_ARG_KEYS = ("gen_ai.tool.call.arguments", "gen_ai.tool.arguments", "tool.parameters", "tool_call.function.arguments")
TOOL_RESULT_KEYS = ("gen_ai.tool.call.result", "gen_ai.tool.result")
PROVENANCE_KEYS = ("warden.provenance", "warden.source")
ENV_KEYS = ("deployment.environment.name", "deployment.environment")
_ENC = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
# The same canonical form as schema's, so a step's digest does not depend on how it arrived.
_CANON = schema._CANON


def _first(attrs: dict, keys: Iterable[str], used: set) -> Any:
    for key in keys:
        if key in attrs and attrs[key] not in (None, ""):
            used.add(key)
            return attrs[key]
    return None


def _time(ns: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC) if ns else None
    except (OverflowError, OSError, ValueError):  # a nonsense timestamp is dropped, not fatal
        return None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**31 else None


def span_kind(span: dict) -> str:
    """tool | chat | retriever | agent | other."""
    attrs = span["attributes"]
    op = attrs.get(OP)
    oi = str(attrs.get(OI_KIND) or "").upper()
    if op in TOOL_OPS or oi == "TOOL":
        return "tool"
    if op in CHAT_OPS or oi == "LLM":
        return "chat"
    if oi == "RETRIEVER":
        return "retriever"
    if op in AGENT_OPS or oi in ("AGENT", "CHAIN"):
        return "agent"
    if op is None and not oi:
        if "gen_ai.tool.name" in attrs:
            return "tool"
        if any(k in attrs for k in ("gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model",
                                    "gen_ai.prompt", "gen_ai.prompt.0.content")):
            return "chat"
    return "other"


def identity(value: str, field: str) -> str:
    """A name that identifies an episode, agent or tool, kept whole or refused: cutting it or
    dropping its NUL characters would merge two different ones (two sessions into one episode)."""
    if len(value) > MAX_NAME:
        raise schema.InvalidInput(field, f"longer than {MAX_NAME} characters")
    if "\x00" in value:
        raise schema.InvalidInput(field, "contains a NUL character")
    return value


def _fit_str(value: str, name: str) -> str:
    limit = schema.STR_LIMITS[name]
    value = value.replace("\x00", "")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _jsonable(value: Any) -> Any:
    """NaN, infinities and other values JSON cannot hold become strings, each in its place."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _fit_json(value: Any) -> Any:
    """JSON-ready and within the size limit; an oversized value keeps a preview."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str) and len(value) < 10_000 and "\x00" not in value:
        return value
    try:
        text = _ENC.encode(value)
    except (TypeError, ValueError):
        value = _jsonable(value)
        text = _ENC.encode(value)
    if "\\u0000" in text:
        value = json.loads(text.replace("\\u0000", ""))
        text = _ENC.encode(value)
    if len(text) > schema.MAX_JSON_CHARS:
        return {"truncated": True, "preview": text[:2000]}
    return value


def _is_small(attrs: dict) -> bool:
    """True when no JSON value built from these attributes can reach the size limit or hold NUL.

    Escaping at most multiplies a string's length by six, so a span whose strings total under an
    eighth of the limit needs no per-value size check (the common case, and a hot path).
    """
    total = 0
    for value in attrs.values():
        if isinstance(value, str):
            if "\x00" in value:
                return False
            total += len(value)
        elif isinstance(value, (list, dict)):
            return False
    return total < schema.MAX_JSON_CHARS // 8


def _step(span: dict, *, kind: str, actor: str, agent: str, at_ns: int, small: bool = False,
          **fields: Any) -> dict:
    step = {
        "kind": kind, "actor": actor, "agent": agent, "trace_id": span["trace_id"], "span_id": span["span_id"],
        "parent_span_id": span["parent_span_id"], **fields,
    }
    for name in ("agent", "tool"):
        if isinstance(step.get(name), str):
            identity(step[name], f"spans[{span['span_id']}].{name}")
    for name in ("agent", "role", "content", "tool", "error", "source"):
        if isinstance(step.get(name), str):
            step[name] = _fit_str(step[name], name)
        elif step.get(name) is not None:
            step[name] = _fit_str(json.dumps(step[name], ensure_ascii=False), name)
    if not small:
        for name in ("arguments", "result", "attributes"):
            if step.get(name) is not None:
                step[name] = _fit_json(step[name])
    step["_at"] = at_ns
    return step


def span_steps(span: dict, agent: str) -> list[dict]:
    """The steps one span becomes (maybe none), with a sort time in `_at`."""
    kind = span_kind(span)
    if kind in ("agent", "other"):
        return []
    attrs = span["attributes"]
    small = _is_small(attrs) and not any(e["attributes"] for e in span["events"])
    used: set[str] = {OP, OI_KIND, *CONVERSATION_KEYS, *AGENT_KEYS}
    provenance = str(_first(attrs, ("warden.provenance",), used) or "")
    source = str(_first(attrs, ("warden.source",), used) or "")
    start, end = span["start_ns"], span["end_ns"] or span["start_ns"]
    error = ""
    if span["status_code"] == 2:
        error = span["status_message"] or str(attrs.get("error.type") or "error")
    common: dict[str, Any] = {"started_at": _time(start), "ended_at": _time(end)}
    steps: list[dict] = []
    if kind in ("tool", "retriever"):
        tool = str(_first(attrs, TOOL_NAME_KEYS, used) or ("retriever" if kind == "retriever" else span["name"]))
        arguments = loads(_first(attrs, TOOL_ARG_KEYS, used))
        result = loads(_first(attrs, TOOL_RESULT_KEYS, used))
        content = ""
        if kind == "retriever":
            docs = indexed(attrs, "retrieval.documents.", used)
            content = "\n\n".join(d.get("content", "") for d in docs)
            provenance = provenance or "untrusted"
            source = source or "retrieval"
        if arguments is None and "input.value" in attrs:
            used.add("input.value")
            arguments = loads(attrs["input.value"])
            if kind == "retriever":
                arguments = {"query": arguments}
        if result is None and "output.value" in attrs:
            used.add("output.value")
            result = loads(attrs["output.value"])
        steps.append(_step(span, small=small, kind="action", actor="agent", agent=agent, at_ns=start, tool=tool,
                           arguments=arguments, started_at=_time(start)))
        steps.append(_step(span, small=small, kind="observation", actor="tool", agent=agent, at_ns=end, tool=tool,
                           role="tool", result=result, content=content, error=error,
                           provenance=provenance or "trusted", source=source, **common))
    else:  # chat
        inputs, outputs = messages(attrs, span["events"], used)
        if inputs and inputs[-1]["role"] == "user":
            steps.append(_step(span, small=small, kind="message", actor="user", agent=agent, at_ns=start, role="user",
                               content=inputs[-1]["content"], provenance=provenance or "trusted", source=source,
                               started_at=_time(start)))
        tool_calls = [c for m in outputs for c in m.get("tool_calls") or []]
        extra = {"tool_calls": tool_calls} if tool_calls else {}
        steps.append(_step(
            span, kind="message", actor="agent", agent=agent, at_ns=end, role="assistant",
            content="\n".join(m["content"] for m in outputs if m["content"]), error=error,
            tokens_in=_int(_first(attrs, INPUT_TOKENS, used)), tokens_out=_int(_first(attrs, OUTPUT_TOKENS, used)),
            cost=_first(attrs, COST_KEYS, used), attributes=extra, **common,
        ))
    # Unknown attributes are kept on the span's first step, with the span's own name.
    kept = {k: v for k, v in attrs.items() if k not in used}
    kept["otel.span.name"] = span["name"]
    steps[0]["attributes"] = {**kept, **(steps[0].get("attributes") or {})}
    if not small:
        steps[0]["attributes"] = _fit_json(steps[0]["attributes"])
    if not isinstance(steps[0]["attributes"], dict):
        steps[0]["attributes"] = {"preview": steps[0]["attributes"]}
    cost = steps[-1].get("cost")
    if cost is not None and not isinstance(cost, (int, float, str)):
        steps[-1]["cost"] = None
    return steps


def group_spans(spans: list[dict]) -> list[dict]:
    """Episodes with their steps in time order.

    Returns [{"external_id", "conversation": bool, "trace_ids", "title", "agents", "environment",
    "steps", "span_ids", "resource", "agent_spans", "task"}]; a group keyed by trace id has conversation=False so the caller can
    attach it to an episode that already holds that trace.
    """
    by_id = {s["span_id"]: s for s in spans}

    def agent_of(span: dict) -> str:
        seen = 0
        current: dict | None = span
        while current is not None and seen < 100:
            for key in AGENT_KEYS:
                if current["attributes"].get(key):
                    return str(current["attributes"][key])
            current = by_id.get(current["parent_span_id"])
            seen += 1
        return str(span["resource"].get("service.name") or "")

    traces: dict[str, list[dict]] = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
    groups: dict[str, dict] = {}
    for trace_id, members in traces.items():
        found = next(((s, k) for s in members for k in CONVERSATION_KEYS if s["attributes"].get(k)), None)
        conversation = None
        if found is not None:
            span, k = found
            conversation = identity(str(span["attributes"][k]), f"spans[{span['span_id']}].attributes.{k}")
        key = conversation or trace_id
        group = groups.setdefault(key, {
            "external_id": key, "conversation": conversation is not None, "trace_ids": [], "title": "",
            "agents": [], "environment": "", "steps": [], "span_ids": [], "resource": {}, "agent_spans": [],
        })
        group["trace_ids"].append(trace_id)
        order = 0
        for span in sorted(members, key=lambda s: (s["start_ns"], s["end_ns"])):
            agent = agent_of(span)
            group["resource"] = group["resource"] or span["resource"]
            if span_kind(span) == "agent":
                # Agent spans are not steps; their attributes are kept on the episode instead.
                # Parent and times too: the trace tree draws agent spans as the steps' parents.
                group["agent_spans"].append({"span_id": span["span_id"], "name": span["name"],
                                             "parent_span_id": span["parent_span_id"],
                                             "start_ns": span["start_ns"], "end_ns": span["end_ns"],
                                             "attributes": _fit_json(span["attributes"])})
                group["title"] = group["title"] or span["name"][:500]
                if agent and agent not in group["agents"]:
                    group["agents"].append(identity(agent, f"spans[{span['span_id']}].agent"))
            env = next((span["resource"][k] for k in ENV_KEYS if span["resource"].get(k)), "")
            group["environment"] = group["environment"] or str(env)[:200]
            steps = span_steps(span, agent)
            if steps:
                group["span_ids"].append(span["span_id"])
            for step in steps:
                step["_order"] = order
                order += 1
                group["steps"].append(step)
    for group in groups.values():
        group["steps"].sort(key=lambda s: (s["_at"], s["_order"]))
        group["task"] = next((s["content"] for s in group["steps"] if s["actor"] == "user" and s["content"]), "")
        group["steps"] = [_normalised(step) for step in group["steps"]]
    return list(groups.values())


_BASE: dict[str, Any] = {
    **{name: "" for name in schema.STR_LIMITS}, "index": None, "actor": "agent", "provenance": "trusted",
    "arguments": None, "result": None, "attributes": {}, "started_at": None, "ended_at": None,
    "tokens_in": None, "tokens_out": None, "cost": None,
}


def _normalised(step: dict) -> dict:
    """The step as schema.step_normalize would return it, built directly from values this module
    already typed and bounded: OTLP ingestion skips re-validating every field of every span.

    Whatever a span carried that cannot be stored is coerced here rather than refused: one odd
    attribute must not make an exporter drop the whole batch.
    """
    out = {**_BASE, **step}
    del out["_at"], out["_order"]
    if out["provenance"] not in schema.PROVENANCES:
        out["provenance"] = "untrusted"
    if out["cost"] is not None:
        try:
            out["cost"] = schema._cost(out["cost"], "cost")
        except schema.InvalidInput:
            out["cost"] = None
    texts = {}
    for name in ("arguments", "result", "attributes"):
        value = out[name]
        if value is None:
            texts[name] = "null"
            continue
        try:
            text = _CANON.encode(value)
        except (TypeError, ValueError):
            text = ""
        if not text or len(text) > schema.MAX_JSON_CHARS or "\\u0000" in text:
            value = out[name] = _fit_json(value)
            if name == "attributes" and not isinstance(value, dict):
                value = out[name] = {"preview": value}
            text = _CANON.encode(value)
        texts[name] = text
    out[schema.JSON_TEXTS] = texts
    return out
