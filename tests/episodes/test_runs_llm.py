"""An LLM agent in a run, against a local chat-completions server (real HTTP), and without one."""

import socket

import pytest

from apps.episodes import services
from apps.episodes.models import RunStatus
from tests.episodes.chat_server import ChatServer, tool_call

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spec(base_url: str, regime: str = "constitutional") -> dict:
    return {"environment": {"kind": "cournot", "rounds": 2, "costs": 10, "channel": False},
            "agents": [{"name": "llm", "kind": "llm", "base_url": base_url, "model": "test-model"},
                       {"name": "rival", "kind": "nash"}],
            "regime": regime, "seed": 5}


def test_an_llm_firm_plays_through_warden_with_the_constitution_in_its_instructions(project):
    def trader(request):
        if request["messages"][-1]["role"] == "tool":
            return {"content": "done"}
        return {"tool_calls": [tool_call(len(request["messages"]), "set_quantity", {"market": "market", "quantity": 30})]}

    with ChatServer(trader) as server:
        run, _ = services.run_create(project=project, data=_spec(server.base_url), actor="alice")
        services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    system = server.requests[0]["body"]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Constitution of this market")
    assert run.evidence["constitution"]["ignored_by"] == ["rival"]
    assert len(run.recording["llm"]) == len(server.requests) == 4  # two rounds: a call, then its answer


def test_an_unreachable_llm_endpoint_fails_the_run_with_a_clear_error(project):
    run, _ = services.run_create(project=project, data=_spec(f"http://127.0.0.1:{_closed_port()}/v1"), actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("agent.base_url: cannot reach http://127.0.0.1:")
    assert run.episode.status == "failed" and run.episode.outcome["termination_reason"] == run.error
