"""Ingestion throughput: durable steps per second through the batch API and OTLP/HTTP protobuf.

Starts a real gunicorn server (tests/bench/live.py) on an empty bench database, sends synthetic
episodes from several client threads, then counts the steps actually stored and divides by the
wall time of the sending phase. Every response comes after the transaction commits, so the count
is what survived. Request bodies are built before the clock starts.

    .venv/bin/python tests/bench/bench_ingest.py [--episodes 40] [--steps 2000] [--batch 500]
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse
import http.client
import json
import os
import queue
import random
import threading
import time
from urllib.parse import urlparse

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.bench.live import cpu_since, live_server, process_cpu

SETUP = """
from apps.tenancy import services
project = services.project_create(slug="bench", name="Bench")
_, raw = services.api_key_create(project=project, name="bench", scopes=["ingest", "read"])
print(raw)
"""


def batch_bodies(episodes: int, steps: int, batch: int) -> list[tuple[str, bytes]]:
    rng = random.Random(1)
    tools = ["search", "read_file", "send_email", "get_balance", "send_money"]
    out = []
    for e in range(episodes):
        for start in range(0, steps, batch):
            rows = []
            for i in range(start, min(start + batch, steps)):
                kind = ("message", "action", "observation")[i % 3]
                rows.append({
                    "index": i, "kind": kind, "agent": f"agent-{e % 4}",
                    "actor": "tool" if kind == "observation" else "agent",
                    "content": f"step {i} of episode {e}: " + "lorem ipsum dolor sit amet " * rng.randint(1, 6),
                    "tool": tools[i % 5] if kind != "message" else "",
                    "arguments": {"q": f"query {i}", "n": i} if kind == "action" else None,
                    "result": {"ok": True, "rows": i % 7} if kind == "observation" else None,
                    "tokens_in": 40 + i % 50, "tokens_out": 10 + i % 20,
                })
            out.append((f"/api/v1/episodes/batch-{e}/steps", json.dumps({"steps": rows}).encode()))
    return out


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def otlp_bodies(requests: int, spans: int) -> list[bytes]:
    """Each request is one conversation of `spans` spans, each two steps: four in five are
    execute_tool spans (action + observation), one in five a chat span (user + assistant message)."""
    out = []
    t0 = time.time_ns()
    for r in range(requests):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.append(_kv("service.name", "bench-agent"))
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        trace_id = os.urandom(16)
        for s in range(spans):
            span = ss.spans.add()
            span.trace_id, span.span_id = trace_id, os.urandom(8)
            span.name = "execute_tool search"
            span.start_time_unix_nano = t0 + s * 1000
            span.end_time_unix_nano = t0 + s * 1000 + 500
            common = [_kv("gen_ai.agent.name", f"agent-{r % 4}"), _kv("gen_ai.conversation.id", f"otlp-{r}")]
            if s % 5 == 0:  # a chat span: the user's message and the assistant's reply
                span.name = "chat model-x"
                span.attributes.extend([*common,
                    _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.request.model", "model-x"),
                    _kv("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [
                        {"type": "text", "content": f"request {s}: " + "please look this up " * (1 + s % 6)}]}])),
                    _kv("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": [
                        {"type": "text", "content": f"answer {s}: " + "lorem ipsum dolor sit amet " * (1 + s % 6)}]}])),
                    _kv("gen_ai.usage.input_tokens", 40 + s), _kv("gen_ai.usage.output_tokens", 12),
                ])
                continue
            span.attributes.extend([*common,
                _kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", f"tool_{s % 5}"),
                _kv("gen_ai.tool.call.arguments", json.dumps({"q": f"query {s}"})),
                _kv("gen_ai.tool.call.result", json.dumps({"ok": True, "n": s})),
                _kv("bench.custom", s),
            ])
        out.append(req.SerializeToString())
    return out


def send_all(url: str, key: str, jobs: list[tuple[str, bytes, str]], threads: int) -> tuple[float, int]:
    """POSTs every job from `threads` keep-alive connections; returns (seconds, failures)."""
    work: queue.Queue = queue.Queue()
    for job in jobs:
        work.put(job)
    failures = []
    parsed = urlparse(url)

    def worker():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        while True:
            try:
                path, body, content_type = work.get_nowait()
            except queue.Empty:
                break
            conn.request("POST", path, body=body, headers={
                "Authorization": f"Bearer {key}", "Content-Type": content_type,
            })
            response = conn.getresponse()
            payload = response.read()
            if response.status >= 300:
                failures.append((response.status, payload[:200]))
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        print(f"  {len(failures)} failed requests, first: {failures[0]}")
    return elapsed, len(failures)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--otlp-requests", type=int, default=160)
    parser.add_argument("--otlp-spans", type=int, default=250)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    # Its own database: other benchmarks may drop and re-create the shared bench database meanwhile.
    os.environ.setdefault("WARDEN_BENCH_DB", "warden_bench_ingest")
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, gunicorn workers: {args.workers}, "
          f"client threads: {args.threads}")
    with live_server(workers=args.workers) as server:
        key = server.manage("shell", "-c", SETUP).strip().splitlines()[-1]
        episode_jobs = [
            ("/api/v1/episodes", json.dumps({"external_id": f"batch-{e}", "agents": ["agent"]}).encode(),
             "application/json")
            for e in range(args.episodes)
        ]
        send_all(server.url, key, episode_jobs, args.threads)
        batch_jobs = [(p, b, "application/json") for p, b in batch_bodies(args.episodes, args.steps, args.batch)]
        otlp_jobs = [("/v1/traces", b, "application/x-protobuf")
                     for b in otlp_bodies(args.otlp_requests, args.otlp_spans)]

        count_sql = ("SELECT count(*) FROM traces_step s JOIN traces_episode e ON e.id = s.episode_id "
                     "WHERE e.external_id LIKE %s")

        port = urlparse(server.url).port
        database = server.env["DATABASE_URL"].rsplit("/", 1)[1]
        web_procs, db_procs = ("gunicorn", f"127.0.0.1:{port}"), (f" {database} ",)

        def phase(label: str, jobs: list, pattern: str, unit: str) -> int:
            web0, db0 = process_cpu(*web_procs), process_cpu(*db_procs)
            seconds, failed = send_all(server.url, key, jobs, args.threads)
            web1, db1 = cpu_since(web0, *web_procs), cpu_since(db0, *db_procs)
            stored = server.sql(count_sql, (pattern,))[0][0]
            web, db = web1 / stored * 1e6, db1 / stored * 1e6
            print(f"{label}: {len(jobs)} requests of {unit}, {stored} steps stored in {seconds:.2f} s "
                  f"-> {stored / seconds:,.0f} durable steps/s")
            print(f"{' ' * len(label)}  server CPU {web + db:.0f} us/step (web {web:.0f}, postgres {db:.0f}) "
                  f"-> {2e6 / (web + db):,.0f} steps/s if the 2 cores were the server's alone")
            return failed

        failed = phase("batch API     ", batch_jobs, "batch-%", f"{args.batch} steps")
        stored = server.sql(count_sql, ("batch-%",))[0][0]
        failed_o = phase("OTLP protobuf ", otlp_jobs, "otlp-%", f"{args.otlp_spans} spans")

        # Re-sending is harmless and cheap: nothing new is written.
        resend = batch_jobs[: max(1, len(batch_jobs) // 8)]
        seconds_r, _ = send_all(server.url, key, resend, args.threads)
        again = server.sql(count_sql, ("batch-%",))[0][0]
        print(f"batch re-send : {len(resend) * args.batch} steps re-sent in {seconds_r:.2f} s, "
              f"{again - stored} new rows (idempotent)")
        if failed or failed_o:
            sys.exit(1)


if __name__ == "__main__":
    main()
