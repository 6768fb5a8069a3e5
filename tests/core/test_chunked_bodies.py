"""Chunked request bodies through a real gunicorn: read whole, or 413 past the limit; never empty."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.policies.models import Decision

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20_000
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = free_port()
    name = connection.settings_dict["NAME"]
    env = dict(os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{name}", WARDEN_MAX_BODY_BYTES=str(LIMIT),
               WARDEN_LOG_FLUSH_INTERVAL="-1", WARDEN_AFTER_RESPONSE="0", CELERY_TASK_ALWAYS_EAGER="1")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "apps.wsgi:application", "-b", f"127.0.0.1:{port}",
                             "-w", "1", "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def post_chunked(port: int, key: str, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    pieces = (body[i:i + 1000] for i in range(0, len(body), 1000))
    conn.request("POST", "/api/v1/decide", body=pieces, encode_chunked=True,
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_a_chunked_body_is_read_whole(server, project, make_key):
    body = json.dumps({"episode": "ep-c", "tool": "read_x", "arguments": {"q": "x" * 5000}}).encode()
    status, data = post_chunked(server, make_key(project, ["decide"]), body)
    assert status == 200, data
    assert Decision.objects.get().arguments == {"q": "x" * 5000}


def test_a_chunked_body_over_the_limit_is_the_json_413(server, project, make_key):
    body = json.dumps({"episode": "ep-c", "tool": "read_x", "arguments": {"q": "x" * (2 * LIMIT)}}).encode()
    status, data = post_chunked(server, make_key(project, ["decide"]), body)
    assert status == 413 and data["error"]["code"] == "too_large"
    assert not Decision.objects.exists()
