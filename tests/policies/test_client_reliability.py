"""The Python client when the network fails: idempotent retries against a live Warden behind a real
failing HTTP server (a scripted reverse proxy), and on_unreachable when nothing answers."""

import http.client
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from warden_client import AskUnanswered, Blocked, Warden, WardenError, WardenUnreachable, transport

from apps.policies import services
from apps.policies.models import Decision
from apps.tenancy.models import IdempotencyKey
from apps.traces.models import Step
from tests.policies.conftest import BANK

pytestmark = pytest.mark.django_db(transaction=True)


class FailingProxy:
    """A real HTTP server in front of Warden that fails requests as scripted, in order:
    "forward", "lost" (forwarded, then the connection closed before the answer: the client cannot
    know it was done), "drop" (closed without forwarding), "garbage" (a 200 that is not Warden's
    JSON), or an int status ("503", "429", ...)
    answered with Retry-After: 0. Past the script it forwards. `seen` records each request."""

    def __init__(self, upstream: str, script: list):
        self.upstream = urllib.parse.urlparse(upstream)
        self.script = list(script)
        self.seen: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server hook
                proxy.handle(self)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        self.seen.append({"method": handler.command, "path": handler.path,
                          "key": handler.headers.get("Idempotency-Key")})
        action = self.script.pop(0) if self.script else "forward"
        if isinstance(action, int):
            payload = json.dumps({"error": {"code": "unavailable", "message": "scripted"}}).encode()
            handler.send_response(action)
            handler.send_header("Retry-After", "0")
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if action == "drop":
            handler.close_connection = True
            return
        if action == "garbage":  # a 200 whose JSON is not Warden's (a captive portal, a misrouted proxy)
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"{}")
            return
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(handler.command, handler.path, body=body or None, headers=headers)
        answer = conn.getresponse()
        payload = answer.read()
        conn.close()
        if action == "lost":
            handler.close_connection = True
            return
        handler.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key(live_server, project, admin, make_key):
    services.policy_publish(project=project, source=BANK, actor=admin)
    return make_key(project, scopes=["decide", "ingest", "read"])


@pytest.fixture
def proxy(live_server):
    proxies = []

    def make(script):
        proxies.append(FailingProxy(live_server.url, script))
        return proxies[-1]

    yield make
    for p in proxies:
        p.close()


@pytest.fixture
def waits(monkeypatch):
    """The client's waits between attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(transport, "_sleep", recorded.append)
    return recorded


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once the socket closes


def test_a_decision_whose_answer_was_lost_is_retried_under_one_key_and_stored_once(key, proxy, waits):
    p = proxy(["lost", "lost"])
    d = Warden(p.url, key).decide(episode="r1", agent="banker", tool="send_money",
                                  arguments={"recipient": "FR9", "amount": 5})
    assert d.verdict == "block" and not d.local
    assert len(p.seen) == 3 and len({s["key"] for s in p.seen}) == 1 and p.seen[0]["key"]
    assert Decision.objects.count() == 1
    assert Step.objects.filter(kind="decision").count() == 1
    assert len(waits) == 2


def test_each_logical_call_gets_its_own_key(key, proxy, waits):
    p = proxy([])
    warden = Warden(p.url, key)
    warden.decide(episode="r2", agent="banker", tool="read_balance")
    warden.decide(episode="r2", agent="banker", tool="read_balance")
    assert Decision.objects.count() == 2
    assert len({s["key"] for s in p.seen}) == 2


def test_a_step_batch_whose_answer_was_lost_is_appended_once(key, proxy, waits):
    p = proxy(["forward", "lost"])
    steps = [{"kind": "message", "actor": "user", "content": "hi"}]
    warden = Warden(p.url, key)
    warden.request("POST", "episodes", {"external_id": "r3"})
    answer = warden.record_steps(episode="r3", steps=steps)
    assert answer["written"] == 1 and answer["step_count"] == 1
    assert Step.objects.filter(episode__external_id="r3").count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_503_and_429_are_retried_honouring_retry_after(key, proxy, waits):
    p = proxy([503, 429, 502, 504])
    d = Warden(p.url, key, retries=4).decide(episode="r4", agent="banker", tool="read_balance")
    assert d.verdict == "allow"
    assert waits == [0.0, 0.0, 0.0, 0.0]  # Retry-After: 0 each time, not the backoff
    assert Decision.objects.count() == 1


def test_a_server_error_or_a_refusal_is_not_retried(key, proxy, waits):
    p = proxy([500])
    with pytest.raises(WardenError) as exc:
        Warden(p.url, key).decide(episode="r5", agent="banker", tool="read_balance")
    assert exc.value.status == 500 and not isinstance(exc.value, WardenUnreachable)
    assert len(p.seen) == 1 and waits == []


def test_a_write_without_a_key_is_not_retried_after_an_ambiguous_failure(key, proxy, waits):
    p = proxy([503])
    with pytest.raises(WardenUnreachable):
        Warden(p.url, key).request("POST", "episodes", {"external_id": "r6"})
    assert len(p.seen) == 1


def test_retries_are_bounded(key, proxy, waits):
    p = proxy(["drop"] * 10)
    d = Warden(p.url, key, retries=2).decide(episode="r7", agent="banker", tool="read_balance")
    assert d.local and d.verdict == "block"
    assert len(p.seen) == 3 and len(waits) == 2
    assert all(0 <= w <= 8 for w in waits)


def test_unreachable_blocks_by_default_and_the_tool_never_runs(waits, tmp_path):
    log = tmp_path / "warden-unreachable.jsonl"
    ran = []
    warden = Warden(_closed_port(), "wdn_x_y", unreachable_log=log)
    send = warden.guard(lambda recipient, amount: ran.append(1), episode="u1", agent="banker", name="send_money")
    with pytest.raises(Blocked) as exc:
        send(recipient="UK1", amount=5)
    assert ran == [] and "unreachable" in exc.value.message
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["what"], e["mode"], e["verdict"], e["tool"]) for e in lines] == [
        ("decide", "block", "block", "send_money")]


def test_fail_open_runs_the_tool_and_logs_the_call_and_its_steps_locally(waits, tmp_path, caplog):
    log = tmp_path / "warden-unreachable.jsonl"
    warden = Warden(_closed_port(), "wdn_x_y", on_unreachable="allow", unreachable_log=log)
    send = warden.guard(lambda recipient, amount: {"sent": amount}, episode="u2", agent="banker", name="send_money")
    with caplog.at_level("WARNING", logger="warden_client"):
        assert send(recipient="UK1", amount=5) == {"sent": 5}
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["what"], e["mode"]) for e in lines] == [("decide", "allow"), ("steps", "allow")]
    assert lines[0]["arguments"] == {"recipient": "UK1", "amount": 5}
    assert [s["kind"] for s in lines[1]["steps"]] == ["action", "observation"]
    assert any("Warden unreachable" in r.getMessage() for r in caplog.records)


def test_an_unknown_on_unreachable_setting_is_refused():
    with pytest.raises(ValueError, match="on_unreachable"):
        Warden("http://127.0.0.1:1", "k", on_unreachable="maybe")


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0", 0.0), ("soon", None), (None, None),
                                                 ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_is_read_as_seconds_or_a_date(header, seconds):
    assert transport.retry_after(header) == seconds


def test_a_long_retry_after_is_capped():
    assert transport.RetryPolicy(max_retry_after=30).delay(0, 600) == 30


def _ask_then(proxy, script):
    """A proxy that forwards the ask's /decide, then answers the long-polls as `script` says."""
    return proxy(["forward", *script])


@pytest.mark.parametrize("failure", ["drop", 503, "garbage"])
def test_waiting_on_an_ask_when_warden_stops_answering_raises_ask_unanswered(key, proxy, waits, failure):
    p = _ask_then(proxy, [failure] * 4)
    warden = Warden(p.url, key)
    asked = warden.decide(episode="a1", agent="banker", tool="update_password", arguments={"new": "x"})
    assert asked.pending and asked.decision_id is not None
    with pytest.raises(AskUnanswered) as exc:
        warden.wait(asked, timeout=5)
    assert isinstance(exc.value, WardenUnreachable)
    assert exc.value.decision.decision_id == asked.decision_id
    assert f"decision {asked.decision_id}" in str(exc.value) and "update_password" in str(exc.value)
    assert "not approved" in str(exc.value)
    # The ask, then one poll and its 3 retries (an answer that is not Warden's is not retried).
    assert len(p.seen) == (2 if failure == "garbage" else 5)


@pytest.mark.parametrize("mode", ["block", "allow"])
def test_a_guarded_ask_that_loses_warden_never_runs_in_either_mode(key, proxy, waits, tmp_path, mode):
    log = tmp_path / "warden-unreachable.jsonl"
    p = _ask_then(proxy, ["drop"] * 4)
    ran = []
    warden = Warden(p.url, key, on_unreachable=mode, unreachable_log=log)
    change = warden.guard(lambda new: ran.append(new), episode="a2", agent="banker", name="update_password")
    with pytest.raises(Blocked) as exc:
        change(new="hunter2")
    assert ran == []
    assert exc.value.decision.local and exc.value.decision.status == "unreachable"
    assert exc.value.decision.decision_id == Decision.objects.get().pk
    assert "unreachable" in exc.value.message and "not approved" in exc.value.message
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["what"], e["verdict"], e["tool"]) for e in lines] == [("ask", "block", "update_password")]
    returned = Warden(_ask_then(proxy, ["drop"] * 4).url, key, on_unreachable=mode).guard(
        lambda new: ran.append(new), episode="a3", agent="banker", name="update_password", on_block="return")
    assert "not approved" in returned(new="hunter2") and ran == []
