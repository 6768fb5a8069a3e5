"""Faults survived: acknowledged data stored exactly once, every block's violation and every ended
episode's checks present after recovery. Each test runs Warden (gunicorn, a Celery worker, beat)
over a private PostgreSQL and Redis that it stops, freezes or kills; the shared ones are never
touched. Counts are printed for the record (`pytest -s tests/faults`)."""

import os
import signal
import threading
import time

import pytest

from tests.faults.harness import PrivatePostgres, PrivateRedis, Stack, wait_until

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def stack():
    with PrivatePostgres() as pg, PrivateRedis() as redis, Stack(pg, redis, DB_STATEMENT_TIMEOUT="3",
                                                                 DB_CONNECT_TIMEOUT="2") as running:
        yield running


def _decide(stack, episode: str, tool: str, **kwargs):
    return stack.post("/api/v1/decide", {"episode": episode, "agent": "a", "tool": tool, "arguments": {}},
                      **kwargs)


def _count(stack, query: str, *params) -> int:
    return stack.pg.sql(query, params)[0][0]


def _violations(stack, prefix: str) -> int:
    return _count(stack, "SELECT count(*) FROM reviews_violation v JOIN traces_episode e ON e.id = v.episode_id"
                         " WHERE e.external_id LIKE %s", prefix + "%")


def _blocked(stack, prefix: str) -> int:
    return _count(stack, "SELECT count(DISTINCT d.episode_id) FROM policies_decision d"
                         " JOIN traces_episode e ON e.id = d.episode_id WHERE e.external_id LIKE %s"
                         " AND d.verdict = 'block'", prefix + "%")


def _report(name: str, **figures) -> None:
    print(f"\n[fault] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_a_redis_outage_during_decide_loses_no_violation(stack):
    stack.redis.stop()
    answered = blocks = 0
    for i in range(40):
        tool = "send_money" if i % 2 else "read_balance"
        status, body, _ = _decide(stack, f"redis-{i}", tool)
        assert status == 200, body  # /decide never needs the broker
        answered += 1
        blocks += body["verdict"] == "block"
    stack.redis.start()
    assert wait_until(lambda: _violations(stack, "redis-") == blocks, 60)
    stored = _count(stack, "SELECT count(*) FROM policies_decision d JOIN traces_episode e ON e.id = d.episode_id"
                           " WHERE e.external_id LIKE 'redis-%%'")
    _report("redis down during /decide", acknowledged=answered, stored=stored, blocks=blocks,
            violations=_violations(stack, "redis-"))
    assert stored == answered and _blocked(stack, "redis-") == blocks
    assert "Traceback" not in stack.log("web")


def test_a_web_worker_killed_before_publishing_a_block_loses_no_violation(stack):
    # Redis frozen: the worker's after-response publish hangs, so the kill lands before it.
    redis_pid = stack.redis.proc.pid
    os.kill(redis_pid, signal.SIGSTOP)
    try:
        status, body, _ = _decide(stack, "killed-web-1", "send_money")
        assert (status, body["verdict"]) == (200, "block")
        for pid in stack.children("web"):
            os.kill(pid, signal.SIGKILL)
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    assert wait_until(lambda: _violations(stack, "killed-web-") == 1, 60)
    assert wait_until(lambda: stack.get("/healthz")[0] == 200, 30)  # gunicorn replaced its workers
    _report("web worker killed after a block", blocks=1, violations=_violations(stack, "killed-web-"))


def _end(stack, episode: str) -> None:
    status, body, _ = stack.post(f"/api/v1/episodes/{episode}/end", {"status": "completed"})
    assert status == 200, body


def _verdicts(stack, prefix: str) -> int:
    return _count(stack, "SELECT count(DISTINCT v.episode_id) FROM contracts_verdict v"
                         " JOIN traces_episode e ON e.id = v.episode_id WHERE e.external_id LIKE %s", prefix + "%")


PUBLISH_CONTRACT = """
from apps.contracts.services import contract_publish
from apps.tenancy.models import Project
contract_publish(project=Project.objects.get(slug="faults"), actor="faults",
                 source="name: ends-well\\nrules:\\n  - never: {tool: rm_rf}\\n")
"""


@pytest.fixture(scope="module")
def contract(stack):
    stack.manage("shell", "-c", PUBLISH_CONTRACT)


def test_a_killed_celery_pool_process_does_not_lose_its_check(stack, contract):
    import psycopg

    # Hold the verdict table so the check is mid-run when its pool process is killed.
    with psycopg.connect(stack.pg.url("warden")) as lock:
        lock.execute("LOCK TABLE contracts_verdict IN ACCESS EXCLUSIVE MODE")
        for i in range(3):
            assert _decide(stack, f"pool-{i}", "read_balance")[0] == 200
            _end(stack, f"pool-{i}")
        assert wait_until(lambda: _count(stack, "SELECT count(*) FROM pg_locks WHERE NOT granted"
                                                " AND relation = 'contracts_verdict'::regclass") > 0, 30)
        killed = stack.children("worker")
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: _verdicts(stack, "pool-") == 3, 90)
    _report("celery pool processes killed mid-check", ended=3, checked=_verdicts(stack, "pool-"),
            killed=len(killed))


def test_a_killed_celery_main_process_loses_nothing_once_it_is_started_again(stack, contract):
    os.killpg(stack.procs["worker"].pid, signal.SIGKILL)
    stack.procs["worker"].wait(10)
    for i in range(3):
        assert _decide(stack, f"main-{i}", "send_money")[0] == 200
        _end(stack, f"main-{i}")
    time.sleep(1)
    stack.start("worker")  # as `make run` does
    assert wait_until(lambda: _verdicts(stack, "main-") == 3 and _violations(stack, "main-") >= 3, 90)
    _report("celery main process killed", ended=3, checked=_verdicts(stack, "main-"), blocks=3,
            violations=_violations(stack, "main-"))


def test_a_postgres_restart_during_ingestion_keeps_acknowledged_steps_exactly_once(stack):
    assert stack.post("/api/v1/episodes", {"external_id": "pg-restart"})[0] in (200, 201)
    acknowledged, unavailable, stop = [], [], threading.Event()

    def ingest() -> None:
        batch = 0
        while not stop.is_set() or batch < 3:
            steps = [{"index": batch * 10 + i, "kind": "message", "actor": "user", "content": f"b{batch} s{i}"}
                     for i in range(10)]
            status, body, headers = stack.post("/api/v1/episodes/pg-restart/steps", {"steps": steps}, timeout=20)
            if status in (200, 201):
                acknowledged.append(batch)
                batch += 1
            else:  # retry the same batch, as a client does after an ambiguous failure
                unavailable.append((status, headers.get("Retry-After"), body))
                time.sleep(0.2)

    writer = threading.Thread(target=ingest)
    writer.start()
    wait_until(lambda: len(acknowledged) >= 5, 30)
    stack.pg.stop("fast")
    time.sleep(2)
    stack.pg.start()
    wait_until(lambda: len(acknowledged) >= 15, 60)
    stop.set()
    writer.join(60)
    rows = stack.pg.sql("SELECT index, count(*) FROM traces_step s JOIN traces_episode e ON e.id = s.episode_id"
                        " WHERE e.external_id = 'pg-restart' GROUP BY index")
    stored = {index: n for index, n in rows}
    expected = {b * 10 + i for b in acknowledged for i in range(10)}
    _report("postgres restarted during ingestion", acknowledged=len(expected), stored=len(stored),
            lost=len(expected - set(stored)), duplicated=sum(n - 1 for n in stored.values()),
            refused_meanwhile=len(unavailable))
    assert expected <= set(stored) and all(n == 1 for n in stored.values())
    for status, retry_after, body in unavailable:
        assert status == 0 or (status == 503 and retry_after and body["error"]["code"] == "unavailable"), body


def test_a_frozen_database_is_answered_503_within_the_deadline_not_a_hang(stack):
    stack.pg.freeze()
    try:
        started = time.monotonic()
        health = stack.get("/healthz", timeout=30)
        status, body, headers = _decide(stack, "frozen-1", "read_balance", timeout=30)
        took = time.monotonic() - started
    finally:
        stack.pg.thaw()
    _report("database frozen", healthz=health[0], decide=status, seconds=round(took, 1))
    assert health[0] == 503 and health[1]["database"] != "ok"
    assert status == 503 and body["error"]["code"] == "unavailable" and headers.get("Retry-After")
    assert wait_until(lambda: _decide(stack, "frozen-2", "read_balance")[0] == 200, 30)
