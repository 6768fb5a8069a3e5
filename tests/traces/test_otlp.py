"""OTLP/HTTP ingestion through the real OpenTelemetry SDK and exporter against a live server."""

import gzip
import json

import pytest
import requests
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db(transaction=True)


def _agent_run(provider, conversation="conv-1", on_all_spans=True):
    tracer = provider.get_tracer("warden-tests")
    conv = {"gen_ai.conversation.id": conversation} if on_all_spans else {}
    with tracer.start_as_current_span("invoke_agent banker", attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "banker",
        "gen_ai.conversation.id": conversation,
    }):
        with tracer.start_as_current_span("chat gpt-x", attributes={
            **conv, "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-x",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Pay rent"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                {"type": "tool_call", "name": "send_money", "arguments": {"amount": 900}}]}]),
            "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 9,
        }):
            pass
        with tracer.start_as_current_span("execute_tool send_money", attributes={
            **conv, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_money",
            "gen_ai.tool.call.arguments": json.dumps({"amount": 900, "to": "landlord"}),
            "gen_ai.tool.call.result": json.dumps({"ok": True}), "bank.branch": "north",
        }):
            pass


def _exporter(live_server, key, **kwargs):
    return OTLPSpanExporter(endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"},
                            **kwargs)


def _provider(exporter, simple=False):
    provider = TracerProvider(resource=Resource.create({"service.name": "bank-agent",
                                                        "deployment.environment.name": "staging"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
    return provider


def _assert_bank_episode(project, external_id="conv-1"):
    episode = Episode.objects.get(project=project, external_id=external_id)
    steps = list(Step.objects.filter(episode=episode).order_by("index"))
    assert [(s.kind, s.actor) for s in steps] == [
        ("message", "user"), ("message", "agent"), ("action", "agent"), ("observation", "tool"),
    ]
    assert steps[2].tool == "send_money"
    assert steps[2].arguments == {"amount": 900, "to": "landlord"}
    assert steps[3].result == {"ok": True}
    assert steps[1].tokens_in == 40
    assert steps[2].attributes["bank.branch"] == "north"
    assert "banker" in episode.agents
    assert episode.environment == "staging"
    assert episode.task == "Pay rent"
    return episode, steps


def test_real_exporter_sends_protobuf_that_becomes_an_episode(live_server, project, make_key):
    provider = _provider(_exporter(live_server, make_key(project, scopes=["ingest"])))
    _agent_run(provider)
    provider.shutdown()
    _assert_bank_episode(project)


def test_real_exporter_with_gzip_is_accepted(live_server, project, make_key):
    provider = _provider(_exporter(live_server, make_key(project, scopes=["ingest"]), compression=Compression.Gzip))
    _agent_run(provider)
    provider.shutdown()
    _assert_bank_episode(project)


def test_children_exported_before_the_parent_join_the_conversation_episode(live_server, project, make_key):
    provider = _provider(_exporter(live_server, make_key(project, scopes=["ingest"])), simple=True)
    _agent_run(provider, on_all_spans=False)
    provider.shutdown()
    _assert_bank_episode(project)
    assert Episode.objects.filter(project=project).count() == 1


def test_exporter_retries_of_the_same_spans_store_them_once(live_server, project, make_key):
    memory = InMemorySpanExporter()
    provider = _provider(memory, simple=True)
    _agent_run(provider)
    exporter = _exporter(live_server, make_key(project, scopes=["ingest"]))
    spans = memory.get_finished_spans()
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert Step.objects.filter(project=project).count() == 4


def _otlp_json(spans) -> dict:
    """OTLP/JSON as the spec writes it: the SDK's own encoding, ids as hex, not base64."""
    data = MessageToDict(encode_spans(spans))
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        import base64
                        span[key] = base64.b64decode(span[key]).hex()
    return data


def test_otlp_json_from_real_sdk_spans_becomes_the_same_episode(live_server, project, make_key):
    memory = InMemorySpanExporter()
    _agent_run(_provider(memory, simple=True))
    response = requests.post(
        f"{live_server.url}/v1/traces", data=json.dumps(_otlp_json(memory.get_finished_spans())),
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}",
                 "Content-Type": "application/json"}, timeout=10,
    )
    assert response.status_code == 200
    assert response.json() == {}
    _assert_bank_episode(project)


def test_gzipped_otlp_json_is_accepted(live_server, project, make_key):
    memory = InMemorySpanExporter()
    _agent_run(_provider(memory, simple=True))
    body = gzip.compress(json.dumps(_otlp_json(memory.get_finished_spans())).encode())
    response = requests.post(
        f"{live_server.url}/v1/traces", data=body,
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}",
                 "Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=10,
    )
    assert response.status_code == 200
    _assert_bank_episode(project)


def test_openinference_spans_from_the_sdk_are_mapped(live_server, project, make_key):
    provider = _provider(_exporter(live_server, make_key(project, scopes=["ingest"])))
    tracer = provider.get_tracer("openinference")
    with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT", "session.id": "s-1"}):
        with tracer.start_as_current_span("llm", attributes={
            "openinference.span.kind": "LLM", "session.id": "s-1",
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Weather in Oslo?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Let me check.",
        }):
            pass
        with tracer.start_as_current_span("get_weather", attributes={
            "openinference.span.kind": "TOOL", "session.id": "s-1", "tool.name": "get_weather",
            "tool.parameters": '{"city": "Oslo"}', "output.value": "rain",
        }):
            pass
    provider.shutdown()
    steps = list(Step.objects.filter(episode__external_id="s-1").order_by("index"))
    assert [s.content for s in steps[:2]] == ["Weather in Oslo?", "Let me check."]
    assert (steps[2].tool, steps[2].arguments, steps[3].result) == ("get_weather", {"city": "Oslo"}, "rain")


def test_malformed_protobuf_is_400_with_a_status_naming_the_problem(live_server, project, make_key):
    from google.rpc import status_pb2

    response = requests.post(
        f"{live_server.url}/v1/traces", data=b"\xff\xff\xff not protobuf",
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}",
                 "Content-Type": "application/x-protobuf"}, timeout=10,
    )
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert "protobuf" in status.message.lower()


def test_otlp_json_with_a_bad_trace_id_is_400_naming_the_field(live_server, project, make_key):
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "00f067aa0ba902b7"}]}]}]}
    response = requests.post(
        f"{live_server.url}/v1/traces", json=body,
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}"}, timeout=10,
    )
    assert response.status_code == 400
    assert "resourceSpans[0].scopeSpans[0].spans[0].traceId" in response.json()["message"]


def test_otlp_without_a_key_is_401_and_with_a_read_key_is_403(live_server, project, make_key):
    url = f"{live_server.url}/v1/traces"
    assert requests.post(url, json={"resourceSpans": []}, timeout=10).status_code == 401
    read = {"Authorization": f"Bearer {make_key(project, scopes=['read'])}"}
    assert requests.post(url, json={"resourceSpans": []}, headers=read, timeout=10).status_code == 403


def test_otlp_body_over_the_limit_is_413(live_server, project, make_key, settings):
    big = b"\x00" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = requests.post(
        f"{live_server.url}/v1/traces", data=big,
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}",
                 "Content-Type": "application/x-protobuf"}, timeout=30,
    )
    assert response.status_code == 413


def test_spans_sent_with_another_projects_key_land_only_in_that_project(live_server, project, other_project,
                                                                        make_key):
    provider = _provider(_exporter(live_server, make_key(other_project, scopes=["ingest"])))
    _agent_run(provider)
    provider.shutdown()
    assert not Episode.objects.filter(project=project).exists()
    assert Episode.objects.filter(project=other_project, external_id="conv-1").exists()


def test_resource_and_agent_span_attributes_are_kept_on_the_episode(live_server, project, make_key):
    provider = _provider(_exporter(live_server, make_key(project, scopes=["ingest"])))
    _agent_run(provider)
    provider.shutdown()
    otel = Episode.objects.get(project=project, external_id="conv-1").config["otel"]
    assert otel["resource"]["service.name"] == "bank-agent"
    assert otel["agent_spans"][0]["attributes"]["gen_ai.agent.name"] == "banker"
