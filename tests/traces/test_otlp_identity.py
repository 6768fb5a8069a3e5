"""OTLP names that identify an episode, agent or tool are kept whole or refused, never cut or cleaned."""

import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db

PROTOBUF = "application/x-protobuf"


def tool_span_body(**attributes) -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("warden-tests")
    base = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "session.id": "s-1"}
    with tracer.start_as_current_span("execute_tool", attributes={**base, **attributes}):
        pass
    return encode_spans(exporter.get_finished_spans()).SerializeToString()


@pytest.fixture
def ingest(project, make_key, api):
    return api(make_key(project, ["ingest"]))


def post(ingest, body: bytes):
    return ingest.generic("POST", "/v1/traces", body, content_type=PROTOBUF)


def test_a_session_id_of_200_characters_is_kept_whole(ingest):
    assert post(ingest, tool_span_body(**{"session.id": "s" * 200})).status_code == 200
    assert Episode.objects.get().external_id == "s" * 200


@pytest.mark.parametrize(("attribute", "value"), [
    ("session.id", "s" * 201), ("session.id", "a\x00b"), ("gen_ai.tool.name", "t" * 201), ("gen_ai.tool.name", "a\x00b"),
])
def test_a_longer_or_nul_holding_name_is_a_400_naming_it_and_nothing_is_written(ingest, attribute, value):
    response = post(ingest, tool_span_body(**{attribute: value}))
    assert response.status_code == 400
    named = "attributes.session.id" if attribute == "session.id" else ".tool"
    assert named in status_pb2.Status.FromString(response.content).message
    assert not Episode.objects.exists() and not Step.objects.exists()


def test_two_sessions_sharing_their_first_200_characters_stay_two_episodes(ingest):
    assert post(ingest, tool_span_body(**{"session.id": "s" * 200})).status_code == 200
    assert post(ingest, tool_span_body(**{"session.id": "s" * 199 + "t"})).status_code == 200
    assert Episode.objects.count() == 2
