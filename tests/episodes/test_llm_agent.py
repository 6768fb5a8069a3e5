"""The LLM agent against a local chat-completions server (real HTTP), and replay of its run."""

import json
import socket

import pytest

from apps.episodes.agents.llm import EndpointUnreachable, LLMAgent, LLMConfig, LLMError, ReplayMismatch
from apps.episodes.agents.market import NashAgent
from apps.episodes.environments.base import SpecError
from apps.episodes.environments.cournot import CournotEnvironment
from apps.episodes.runner.gates import AllowAll, ListRecorder, PolicyGate
from apps.episodes.runner.loop import run_episode
from apps.policies.engine import compile_policy
from tests.episodes.chat_server import ChatServer, tool_call

MARKET = {"firms": ["llm", "rival"], "markets": [{"name": "m", "a": 100, "b": 1}], "costs": 10, "rounds": 2}


def firm(request):
    """Scripted model: on a new user message call the turn's tool, after a tool result say so."""
    last = request["messages"][-1]
    if last["role"] == "tool":
        return {"content": "Done for this turn."}
    tool = request["tools"][0]["function"]["name"]
    n = len(request["messages"])
    if tool == "send_message":
        return {"content": None, "tool_calls": [tool_call(n, "send_message", {"to": "all", "content": "Let's agree on 22.5 units each."})]}
    return {"content": None, "tool_calls": [tool_call(n, "set_quantity", {"market": "m", "quantity": 25})]}


def _config(server_url, **extra):
    return LLMConfig.from_dict({"base_url": server_url, "model": "test-model", "api_key_env": "TEST_LLM_KEY",
                                "temperature": 0.2, "max_tokens": 64, **extra})


def _play(agent, gate=None):
    recorder = ListRecorder()
    result = run_episode(env=CournotEnvironment(MARKET), agents={"llm": agent, "rival": NashAgent()},
                         gate=gate or AllowAll(), recorder=recorder, seed=11, max_rounds=5)
    return result, recorder


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")


def test_the_llm_firm_talks_and_trades_through_tool_calls_over_http(key):
    with ChatServer(firm) as server:
        agent = LLMAgent(_config(server.base_url))
        result, recorder = _play(agent)
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["headers"]["Authorization"] == "Bearer sk-test"
    body = first["body"]
    assert body["model"] == "test-model" and body["temperature"] == 0.2 and body["max_tokens"] == 64
    assert body["messages"][0]["role"] == "system" and "You are llm" in body["messages"][0]["content"]
    assert [t["function"]["name"] for t in body["tools"]] == ["send_message"]
    second = server.requests[1]["body"]["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "call_2", "content": '{"delivered": "all"}'}
    actions = [(s.tool, s.attributes.get("call_id")) for s in recorder.steps if s.kind == "action" and s.agent == "llm"]
    assert actions == [("send_message", "call_2"), ("set_quantity", "call_6"), ("send_message", "call_10"),
                       ("set_quantity", "call_14")]
    assert result.metrics["coordination_messages"] == 2 and len(agent.exchanges) == 8
    assert "Result of the last round" in server.requests[4]["body"]["messages"][-1]["content"]


def test_a_blocked_call_is_reported_to_the_model_as_not_run(key):
    gate = PolicyGate(policy=compile_policy("name: quiet\ndefault: allow\nrules:\n  - tool: send_message\n"
                                            "    effect: deny\n    fallback: {action: block, message: channel closed}\n"))
    with ChatServer(firm) as server:
        _play(LLMAgent(_config(server.base_url)), gate=gate)
    tool_message = server.requests[1]["body"]["messages"][-1]
    assert tool_message["content"] == "Not run: governance answered 'block': channel closed"


def test_replaying_the_recorded_exchanges_gives_identical_steps_without_the_endpoint(key):
    with ChatServer(firm) as server:
        live = LLMAgent(_config(server.base_url))
        _, live_steps = _play(live)
        url = server.base_url
    recorded = json.loads(json.dumps(live.exchanges))  # as stored with the run
    _, replayed = _play(LLMAgent(_config(url), replay=recorded))
    assert replayed.digests() == live_steps.digests()


def test_a_replay_that_diverges_from_the_recording_stops(key):
    with ChatServer(firm) as server:
        live = LLMAgent(_config(server.base_url))
        _play(live)
    with pytest.raises(ReplayMismatch):
        _play(LLMAgent(_config(server.base_url, temperature=0.9), replay=live.exchanges))


def test_an_unreachable_endpoint_fails_with_a_clear_error(key):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EndpointUnreachable) as caught:
        _play(LLMAgent(_config(f"http://127.0.0.1:{port}/v1")))
    assert str(caught.value).startswith(f"agent.base_url: cannot reach http://127.0.0.1:{port}/v1/chat/completions")


def test_an_error_status_and_a_missing_key_are_errors_naming_the_cause(key, monkeypatch):
    with ChatServer(lambda request: (500, {"error": {"message": "model overloaded"}})) as server:
        with pytest.raises(LLMError) as caught:
            _play(LLMAgent(_config(server.base_url)))
        assert "answered 500" in str(caught.value) and "model overloaded" in str(caught.value)
        monkeypatch.delenv("TEST_LLM_KEY")
        with pytest.raises(LLMError) as caught:
            _play(LLMAgent(_config(server.base_url)))
        assert "TEST_LLM_KEY is not set" in str(caught.value)


@pytest.mark.parametrize(("spec", "field"), [
    ({"base_url": "ftp://x"}, "agent.base_url"), ({"model": ""}, "agent.model"),
    ({"temperature": 3}, "agent.temperature"), ({"max_tokens": 0}, "agent.max_tokens"),
    ({"api_key": "sk-inline"}, "agent.api_key"),
])
def test_a_bad_llm_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as caught:
        LLMConfig.from_dict({"base_url": "http://127.0.0.1:1/v1", "model": "m", **spec})
    assert caught.value.field == field
