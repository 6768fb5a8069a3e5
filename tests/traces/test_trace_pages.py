"""The trace tree page (OTLP-ingested and REST episodes), the session view, the episode's usage sums."""

import json
from decimal import Decimal

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from apps.traces import services
from apps.traces.models import Episode


def _otlp_run(live_server, key):
    provider = TracerProvider(resource=Resource.create({"service.name": "bank-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("invoke_agent banker", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "banker",
            "gen_ai.conversation.id": "conv-tree"}):
        with tracer.start_as_current_span("chat gpt-x", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 9,
                "gen_ai.usage.cost": 0.0021,
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Pay"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}])}):
            pass
        with tracer.start_as_current_span("execute_tool send_money", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_money",
                "gen_ai.tool.call.arguments": json.dumps({"amount": 900})}):
            pass
    provider.shutdown()
    return Episode.objects.get(project__slug="acme", external_id="conv-tree")


@pytest.mark.django_db(transaction=True)
def test_an_otlp_ingested_episode_shows_its_span_tree_with_durations_tokens_and_cost(live_server, project, viewer,
                                                                                    make_key, login):
    episode = _otlp_run(live_server, make_key(project, scopes=["ingest"]))
    assert (episode.tokens_in, episode.tokens_out, episode.cost) == (40, 9, Decimal("0.002100"))
    assert episode.session == "conv-tree"
    body = login(viewer).get(f"/p/acme/traces/e/{episode.pk}/trace").content.decode()
    rows = body.split('class="span-row')[1:]
    assert len(rows) == 3
    assert 'data-depth="0"' in rows[0] and "invoke_agent banker" in rows[0]
    assert 'data-depth="1"' in rows[1] and "chat" in rows[1] and "40→9" in rows[1] and "$0.0021" in rows[1]
    assert 'data-depth="1"' in rows[2] and "send_money" in rows[2] and " ms</td>" in rows[2]
    assert "Episode total" in body and "40 in · 9 out" in body


pytestmark = pytest.mark.django_db


def _rest_episode(project, external_id, session="", tokens=(0, 0), cost=None):
    episode, _ = services.episode_upsert(project=project, external_id=external_id, session=session)
    services.steps_append_batch(episode=episode, steps=[
        {"kind": "message", "actor": "user", "content": "hi"},
        {"kind": "message", "agent": "bot", "role": "assistant", "content": "hello",
         "tokens_in": tokens[0], "tokens_out": tokens[1], "cost": cost}])
    return episode


def test_stored_steps_add_their_tokens_and_cost_to_the_episode(project):
    episode = _rest_episode(project, "e1", tokens=(10, 4), cost="0.5")
    services.step_append(episode=episode, kind="message", tokens_in=5, tokens_out=1, cost="0.25")
    episode.refresh_from_db()
    assert (episode.tokens_in, episode.tokens_out, episode.cost) == (15, 5, Decimal("0.75"))


def test_a_resent_batch_does_not_count_its_tokens_twice(project):
    episode = _rest_episode(project, "e1", tokens=(10, 4))
    services.steps_append_batch(episode=episode, steps=[
        {"index": 1, "kind": "message", "agent": "bot", "role": "assistant", "content": "hello",
         "tokens_in": 10, "tokens_out": 4}])
    episode.refresh_from_db()
    assert episode.tokens_in == 10


def test_a_rest_episode_without_span_ids_shows_one_node_per_step(login, viewer, project):
    episode = _rest_episode(project, "plain")
    body = login(viewer).get(f"/p/acme/traces/e/{episode.pk}/trace").content.decode()
    assert body.count('class="span-row') == 2


def test_the_session_view_groups_the_episodes_of_one_conversation(login, viewer, project):
    _rest_episode(project, "turn-1", session="chat-7", tokens=(3, 1))
    _rest_episode(project, "turn-2", session="chat-7", tokens=(5, 2))
    _rest_episode(project, "elsewhere", session="chat-8")
    body = login(viewer).get("/p/acme/traces/sessions/chat-7/").content.decode()
    assert "turn-1" in body and "turn-2" in body and "elsewhere" not in body
    assert "2 episodes" in body and "8→3 tokens" in body


def test_an_unknown_session_is_404(login, viewer, project):
    assert login(viewer).get("/p/acme/traces/sessions/nope/").status_code == 404


def test_an_outsider_sees_neither_trace_nor_session(login, outsider, project):
    episode = _rest_episode(project, "turn-1", session="chat-7")
    client = login(outsider)
    assert client.get(f"/p/acme/traces/e/{episode.pk}/trace").status_code in (403, 404)
    assert client.get("/p/globex/traces/sessions/chat-7/").status_code == 404
    assert client.get(f"/p/globex/traces/e/{episode.pk}/trace").status_code == 404
