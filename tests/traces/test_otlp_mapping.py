"""The pure OTLP mapping: GenAI semantic conventions (current and older names) and OpenInference."""

import json

import pytest

from apps.traces import schema
from apps.traces.otlp import mapping

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _span(span_id, attrs, name="span", parent="", start=1_000, end=2_000, events=(), status=0, message=""):
    return {
        "trace_id": TRACE, "span_id": span_id, "parent_span_id": parent, "name": name, "kind": 1,
        "start_ns": start, "end_ns": end, "attributes": attrs, "status_code": status, "status_message": message,
        "events": list(events), "resource": {"service.name": "svc"}, "scope": "test",
    }


def _steps(spans):
    [group] = mapping.group_spans(spans)
    return group, group["steps"]


def test_execute_tool_span_becomes_an_action_and_an_observation():
    _, steps = _steps([_span("a" * 16, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_money",
        "gen_ai.tool.call.arguments": json.dumps({"amount": 10}), "gen_ai.tool.call.result": '{"ok": true}',
        "gen_ai.agent.name": "banker",
    })])
    assert [(s["kind"], s["tool"]) for s in steps] == [("action", "send_money"), ("observation", "send_money")]
    assert steps[0]["arguments"] == {"amount": 10}
    assert steps[1]["result"] == {"ok": True}
    assert steps[0]["agent"] == "banker"


def test_chat_span_with_current_message_attributes_becomes_user_and_assistant_messages():
    _, steps = _steps([_span("a" * 16, {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Pay rent"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Done"}]}]),
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 3,
    })])
    assert [(s["actor"], s["content"]) for s in steps] == [("user", "Pay rent"), ("agent", "Done")]
    assert (steps[1]["tokens_in"], steps[1]["tokens_out"]) == (12, 3)


def test_older_genai_names_map_like_the_current_ones():
    _, steps = _steps([_span("a" * 16, {
        "gen_ai.system": "openai", "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Hello",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hi there",
        "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 2,
    })])
    assert [s["content"] for s in steps] == ["Hello", "Hi there"]
    assert (steps[1]["tokens_in"], steps[1]["tokens_out"]) == (5, 2)


def test_message_events_of_older_conventions_are_read():
    _, steps = _steps([_span("a" * 16, {"gen_ai.operation.name": "chat"}, events=[
        {"name": "gen_ai.user.message", "time_ns": 1, "attributes": {"content": "What is 2+2?"}},
        {"name": "gen_ai.choice", "time_ns": 2, "attributes": {"message": json.dumps({"content": "4"})}},
    ])])
    assert [s["content"] for s in steps] == ["What is 2+2?", "4"]


def test_openinference_llm_span_maps_flattened_messages():
    _, steps = _steps([_span("a" * 16, {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Be brief",
        "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "Weather?",
        "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "Sunny",
        "llm.token_count.prompt": 7, "llm.token_count.completion": 1, "session.id": "sess-9",
    })])
    assert [(s["role"], s["content"]) for s in steps] == [("user", "Weather?"), ("assistant", "Sunny")]
    assert steps[1]["tokens_in"] == 7


def test_openinference_tool_span_maps_tool_name_and_parameters():
    _, steps = _steps([_span("a" * 16, {
        "openinference.span.kind": "TOOL", "tool.name": "get_weather",
        "tool.parameters": '{"city": "Oslo"}', "output.value": "rain",
    })])
    assert steps[0]["tool"] == "get_weather"
    assert steps[0]["arguments"] == {"city": "Oslo"}
    assert steps[1]["result"] == "rain"


def test_openinference_session_id_names_the_episode():
    group, _ = _steps([_span("a" * 16, {"openinference.span.kind": "LLM", "session.id": "sess-9",
                                        "output.value": "x"})])
    assert (group["external_id"], group["conversation"]) == ("sess-9", True)


def test_spans_without_a_conversation_group_by_trace():
    group, _ = _steps([_span("a" * 16, {"gen_ai.operation.name": "chat", "output.value": "x"})])
    assert (group["external_id"], group["conversation"]) == (TRACE, False)


def test_unknown_attributes_are_kept_on_the_first_step():
    _, steps = _steps([_span("a" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t",
                                        "custom.flag": True, "gen_ai.tool.call.id": "call_1"}, name="execute_tool t")])
    assert steps[0]["attributes"]["custom.flag"] is True
    assert steps[0]["attributes"]["gen_ai.tool.call.id"] == "call_1"
    assert steps[0]["attributes"]["otel.span.name"] == "execute_tool t"


def test_agent_name_is_inherited_from_the_invoke_agent_parent():
    group, steps = _steps([
        _span("a" * 16, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
              name="invoke_agent planner", start=0, end=9_000),
        _span("b" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"}, parent="a" * 16),
    ])
    assert {s["agent"] for s in steps} == {"planner"}
    assert group["title"] == "invoke_agent planner"
    assert group["agents"] == ["planner"]


def test_a_failed_tool_span_records_the_error_on_the_observation():
    _, steps = _steps([_span("a" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"},
                             status=2, message="timeout")])
    assert steps[1]["error"] == "timeout"


def test_steps_are_ordered_by_time_across_spans():
    _, steps = _steps([
        _span("b" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "second"}, start=5, end=6),
        _span("a" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "first"}, start=1, end=2),
    ])
    assert [s["tool"] for s in steps] == ["first", "first", "second", "second"]


def test_non_genai_spans_become_no_steps():
    group, steps = _steps([_span("a" * 16, {"http.method": "GET"}),
                           _span("b" * 16, {"gen_ai.tool.name": "t"})])
    assert [s["span_id"] for s in steps] == ["b" * 16, "b" * 16]


def test_oversized_tool_names_are_refused_not_truncated():
    # A cut name would merge two tools (or, for conversation ids, two sessions) into one.
    with pytest.raises(schema.InvalidInput) as info:
        _steps([_span("a" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "x" * 500})])
    assert info.value.field == f"spans[{'a' * 16}].tool"


def test_mapped_steps_equal_what_step_normalize_makes_of_them():
    from apps.traces import schema

    _, steps = _steps([
        _span("a" * 16, {"gen_ai.operation.name": "chat", "gen_ai.input.messages": json.dumps(
            [{"role": "user", "content": "hi"}]), "gen_ai.output.messages": json.dumps([{"role": "assistant",
            "content": "yo"}]), "gen_ai.usage.input_tokens": 3, "llm.cost.total": 0.25, "x": [1, 2]}),
        _span("b" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t",
                         "gen_ai.tool.call.arguments": '{"b": 1, "a": [1, {"z": null}]}', "warden.source": "web",
                         "warden.provenance": "untrusted"}, start=3_000, end=4_000),
    ])
    assert [s["kind"] for s in steps] == ["message", "message", "action", "observation"]  # the premise: both spans mapped
    for step in steps:
        plain = {k: v for k, v in step.items() if k in schema.STEP_FIELDS}
        again = schema.step_normalize(plain)
        assert again == step
        assert schema.step_digest(again) == schema.step_digest(step)


def test_an_unencodable_attribute_is_coerced_not_fatal():
    _, steps = _steps([_span("a" * 16, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t",
                                        "odd": float("nan")})])
    assert steps[0]["attributes"]["odd"] == "nan"


def test_a_nonsense_timestamp_is_dropped():
    _, steps = _steps([_span("a" * 16, {"gen_ai.tool.name": "t"}, start=10**30, end=10**30)])
    assert steps[0]["started_at"] is None
