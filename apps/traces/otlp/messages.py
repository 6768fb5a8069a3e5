"""Chat messages out of span attributes and events, whichever convention wrote them. No Django import.

Current GenAI semconv (`gen_ai.input.messages` / `gen_ai.output.messages` with typed parts), the
older `gen_ai.prompt` / `gen_ai.completion` (JSON or flattened `gen_ai.prompt.0.content`), message
events (`gen_ai.user.message`, `gen_ai.choice`, ...), and OpenInference's flattened
`llm.input_messages.N.message.*` with `input.value` / `output.value` as the last resort.
"""

import json
from typing import Any

MESSAGE_EVENTS = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool", "gen_ai.choice": "assistant",
}


def loads(value: Any) -> Any:
    """Semconv values are often JSON strings; structured values pass through."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[", '"') or text in ("true", "false", "null"):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def _text(content: Any) -> str:
    """Text of a message content: a string, or current semconv parts [{"type": "text", "content": ...}]."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if part.get("type", "text") == "text":
                    value = part.get("content", part.get("text"))
                    if isinstance(value, str):
                        texts.append(value)
            elif isinstance(part, str):
                texts.append(part)
        return "\n".join(texts)
    return json.dumps(content, ensure_ascii=False)


def _message(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    if "message" in raw and isinstance(raw["message"], dict):  # gen_ai.choice {"message": {...}}
        raw = raw["message"]
    content = raw.get("parts") if "parts" in raw else raw.get("content")
    tool_calls = raw.get("tool_calls") or [
        p for p in (raw.get("parts") or []) if isinstance(p, dict) and p.get("type") == "tool_call"
    ]
    return {"role": str(raw.get("role") or ""), "content": _text(content), "tool_calls": tool_calls}


def indexed(attrs: dict, prefix: str, used: set) -> list[dict]:
    """Flattened lists: `llm.input_messages.0.message.role`, `gen_ai.prompt.0.content` ..."""
    rows: dict[int, dict] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        head, _, rest = key[len(prefix):].partition(".")
        if not head.isdigit():
            continue
        used.add(key)
        rest = rest.removeprefix("message.")
        rows.setdefault(int(head), {})[rest] = value
    messages = []
    for _, row in sorted(rows.items()):
        calls = sorted({k.split(".")[1] for k in row if k.startswith("tool_calls.") and k.count(".") >= 2})
        tool_calls = [
            {"name": row.get(f"tool_calls.{c}.tool_call.function.name") or row.get(f"tool_calls.{c}.name"),
             "arguments": loads(row.get(f"tool_calls.{c}.tool_call.function.arguments")
                                 or row.get(f"tool_calls.{c}.arguments"))}
            for c in calls
        ]
        messages.append({"role": str(row.get("role") or ""), "content": _text(row.get("content")),
                         "tool_calls": tool_calls})
    return messages


def messages(attrs: dict, events: list[dict], used: set) -> tuple[list[dict], list[dict]]:
    """(input messages, output messages) from whichever convention the span uses."""
    inputs: list[dict] = []
    outputs: list[dict] = []
    for key, target in (("gen_ai.input.messages", inputs), ("gen_ai.output.messages", outputs),
                        ("gen_ai.prompt", inputs), ("gen_ai.completion", outputs)):
        if key in attrs:
            value = loads(attrs[key])
            used.add(key)
            if isinstance(value, str):
                target.append({"role": "user" if target is inputs else "assistant", "content": value,
                               "tool_calls": []})
            elif isinstance(value, list):
                target.extend(m for m in map(_message, value) if m)
            elif isinstance(value, dict):
                target.extend(m for m in [_message(value)] if m)
    if not inputs:
        inputs = indexed(attrs, "llm.input_messages.", used) or indexed(attrs, "gen_ai.prompt.", used)
    if not outputs:
        outputs = indexed(attrs, "llm.output_messages.", used) or indexed(attrs, "gen_ai.completion.", used)
    for event in events:
        role = MESSAGE_EVENTS.get(event["name"])
        if role is None:
            continue
        ea = event["attributes"]
        body = loads(ea.get("content", ea.get("gen_ai.event.content", ea.get("message"))))
        msg = _message(body) if isinstance(body, dict) else {"role": role, "content": _text(body), "tool_calls": []}
        if msg:
            msg["role"] = msg["role"] or role
            (outputs if event["name"] == "gen_ai.choice" or role == "assistant" else inputs).append(msg)
    if not inputs and "input.value" in attrs:
        used.add("input.value")
        inputs = [{"role": "user", "content": _text(loads(attrs["input.value"])), "tool_calls": []}]
    if not outputs and "output.value" in attrs:
        used.add("output.value")
        outputs = [{"role": "assistant", "content": _text(loads(attrs["output.value"])), "tool_calls": []}]
    return inputs, outputs
