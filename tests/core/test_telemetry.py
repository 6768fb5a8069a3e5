"""Warden's own spans go out over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from apps import telemetry

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django, os
django.setup()
from apps.telemetry import instrument
assert instrument() is True
from django.test import Client
assert Client().get("/healthz").status_code in (200, 503)
from opentelemetry import trace
trace.get_tracer_provider().force_flush()
"""


def test_nothing_is_instrumented_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert telemetry.instrument() is False


@pytest.mark.integration
def test_request_spans_are_exported_to_the_configured_collector():
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = dict(
            os.environ,
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_port}",
            DJANGO_SETTINGS_MODULE="apps.settings",
            PYTHONPATH=str(ROOT),
        )
        subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    assert received, "no OTLP export reached the collector"
    path, body = received[0]
    assert path == "/v1/traces"
    assert b"/healthz" in body or b"healthz" in body
