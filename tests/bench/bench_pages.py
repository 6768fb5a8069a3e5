"""Reviewer pages' server time: the episode list over 10,000 episodes, the replay of a 10,000-step
episode, the overview dashboard and the trace-metrics page (target: p50 and p95 under 150 ms each).

Starts a real gunicorn server (tests/bench/live.py, one sync worker so requests never queue behind
each other), fills the bench database in bulk SQL (10,000 episodes of 6 steps with tokens and cost,
a decision and a policy Decision row each, 1,000 violations, 3 contracts with a verdict on each ended
episode, 50 agent states, one 10,000-step episode), logs in as a viewer and times each page's full
HTML response over loopback, sequentially.

    .venv/bin/python tests/bench/bench_pages.py [--episodes 10000] [--steps 10000] [--repeat 40] [--only metrics]
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse
import os
import statistics
import time

import requests

from tests.bench.live import cpu_since, live_server, process_cpu

SETUP = """
from django.contrib.auth import get_user_model
from apps.tenancy import services
from apps.tenancy.models import Membership
project = services.project_create(slug="bench", name="Bench")
user = get_user_model().objects.create_user("bench", password="bench-password")
Membership.objects.create(project=project, user=user, role="viewer")
print(project.pk)
"""

FILL = """
INSERT INTO traces_episode (project_id, external_id, title, task, agents, environment, status, started_at, ended_at,
    outcome, config, versions, tags, step_count, tools, violation_count, trace_ids, session, tokens_in, tokens_out,
    cost, created_at, updated_at)
SELECT %(p)s, 'ep-' || g, 'Episode ' || g, 'Pay invoice ' || g, ARRAY['agent-' || (g %% 20)], 'bank',
       (ARRAY['completed', 'failed', 'terminated', 'running'])[1 + g %% 4],
       now() - (g || ' minutes')::interval, now() - (g || ' minutes')::interval + ((g %% 90) || ' seconds')::interval,
       '{}', '{}', '{}', ARRAY[]::varchar[], 6, ARRAY['read_balance', 'send_money'], CASE WHEN g %% 10 = 0 THEN 1 ELSE 0 END,
       ARRAY[]::varchar[], 'session-' || (g / 5), 600 + g %% 400, 80 + g %% 50, (g %% 1000) / 10000.0, now(), now()
  FROM generate_series(1, %(n)s) g;

INSERT INTO traces_step (project_id, episode_id, index, kind, actor, agent, role, content, tool, arguments, result, error,
    provenance, source, trace_id, span_id, parent_span_id, started_at, ended_at, tokens_in, tokens_out, cost,
    attributes, digest, created_at)
SELECT e.project_id, e.id, i, (ARRAY['message', 'message', 'action', 'decision', 'observation', 'message'])[i + 1],
       CASE WHEN i = 3 THEN 'governance' WHEN i = 4 THEN 'tool' ELSE 'agent' END, e.agents[1], '',
       'step ' || i || ' of ' || e.external_id,
       CASE WHEN i IN (2, 3, 4) THEN 'send_money' ELSE '' END,
       CASE WHEN i = 2 THEN jsonb_build_object('recipient', 'DE' || e.id, 'amount', 50) END,
       CASE WHEN i = 4 THEN '{"ok": true}'::jsonb END, '', 'trusted', '', '', '', '',
       e.started_at, e.started_at, CASE WHEN i = 1 THEN 600 END, CASE WHEN i = 1 THEN 80 END, NULL,
       CASE WHEN i = 3 THEN jsonb_build_object('verdict', CASE WHEN e.id %% 7 = 0 THEN 'block' ELSE 'allow' END)
            ELSE '{}'::jsonb END,
       md5(e.id || '-' || i), now()
  FROM traces_episode e, generate_series(0, 5) i WHERE e.project_id = %(p)s;

INSERT INTO policies_decision (project_id, episode_id, step_index, agent, kind, tool, arguments, final_arguments,
    verdict, outcome, status, rule, message, policy_digest, tier, evidence, latency_us, created_at)
SELECT e.project_id, e.id, 3, e.agents[1], 'tool', CASE WHEN e.id %% 3 = 0 THEN 'send_money' ELSE 'read_balance' END,
       '{}', '{}', v, v, 'decided', '', '', '', 'light', '{}', 20 + e.id %% 300, e.started_at
  FROM traces_episode e, LATERAL (SELECT CASE WHEN e.id %% 7 = 0 THEN 'block' WHEN e.id %% 11 = 0 THEN 'rewrite'
                                          ELSE 'allow' END AS v) x
 WHERE e.project_id = %(p)s;

INSERT INTO reviews_violation (project_id, episode_id, source, name, version, severity, status, first_step_index,
    evidence, agent, notes, created_at, updated_at)
SELECT e.project_id, e.id, 'contract', 'contract-' || (e.id %% 8), '',
       (ARRAY['low', 'medium', 'high', 'critical'])[1 + e.id %% 4], 'open', 3,
       jsonb_build_object('contained', e.id %% 3 = 0, 'message', 'evidence of episode ' || e.id), e.agents[1], '',
       e.started_at, now()
  FROM traces_episode e WHERE e.project_id = %(p)s AND e.violation_count > 0;

INSERT INTO contracts_contract (project_id, name, description, enabled, created_at, updated_at)
SELECT %(p)s, 'contract-' || g, '', true, now(), now() FROM generate_series(0, 2) g;

INSERT INTO contracts_contractversion (project_id, contract_id, number, digest, source, severity, runtime, created_by,
    created_at)
SELECT c.project_id, c.id, 1, md5(c.name), 'name: ' || c.name, 'high', false, 'bench', now()
  FROM contracts_contract c WHERE c.project_id = %(p)s;

INSERT INTO contracts_verdict (project_id, episode_id, version_id, status, first_violating_step, evidence, steps_checked,
    at_runtime, checked_at)
SELECT e.project_id, e.id, v.id, CASE WHEN (e.id + v.id) %% 9 = 0 THEN 'fail' WHEN (e.id + v.id) %% 31 = 0
                                      THEN 'inconclusive' ELSE 'pass' END,
       NULL, '[]', 6, false, e.ended_at
  FROM traces_episode e, contracts_contractversion v WHERE e.project_id = %(p)s AND v.project_id = %(p)s
   AND e.status <> 'running';

INSERT INTO governance_agentstate (project_id, agent, state, counters, suspended, revoked_tools, arg_bounds, updated_at)
SELECT %(p)s, 'agent-' || g, (ARRAY['good-standing', 'probation', 'restricted', 'suspended'])[1 + g %% 4], '{}',
       g %% 4 = 3, ARRAY[]::varchar[], '{}', now()
  FROM generate_series(0, 49) g;
"""

LONG = """
INSERT INTO traces_episode (project_id, external_id, title, task, agents, environment, status, started_at, ended_at,
    outcome, config, versions, tags, step_count, tools, violation_count, trace_ids, session, tokens_in, tokens_out,
    cost, created_at, updated_at)
VALUES (%(p)s, 'long', 'Long episode', '', ARRAY['agent'], '', 'completed', now() - interval '1 day', now(), '{}', '{}',
        '{}', ARRAY[]::varchar[], %(n)s, ARRAY['search'], 0, ARRAY[]::varchar[], '', 0, 0, 0, now(), now())
RETURNING id;
"""
LONG_STEPS = """
INSERT INTO traces_step (project_id, episode_id, index, kind, actor, agent, role, content, tool, arguments, result, error,
    provenance, source, trace_id, span_id, parent_span_id, started_at, ended_at, tokens_in, tokens_out, cost,
    attributes, digest, created_at)
SELECT %(p)s, %(e)s, i, (ARRAY['message', 'action', 'observation', 'decision'])[1 + i %% 4], 'agent', 'agent', '',
       'step ' || i || ' of a long episode', CASE WHEN i %% 4 > 0 THEN 'search' ELSE '' END,
       jsonb_build_object('q', i), NULL, '', 'trusted', '', 't1', 's' || i, '', now(), now(), NULL, NULL, NULL,
       CASE WHEN i %% 4 = 3 THEN '{"verdict": "allow"}'::jsonb ELSE '{}'::jsonb END, md5(i::text), now()
  FROM generate_series(0, %(n)s - 1) i;
"""


def timed(session: requests.Session, url: str, repeat: int, db: str) -> tuple[list[float], int, float]:
    """Wall times (ms) of `repeat` requests after 3 warm-ups, the page size, and the CPU per request (ms) of
    the gunicorn worker plus its PostgreSQL backend: what the server spends, which load elsewhere on a
    shared machine does not inflate the way it inflates wall time."""
    times, size = [], 0
    for _ in range(3):  # the first requests warm the worker's caches and prepared statements
        session.get(url, timeout=60).raise_for_status()
    before = {**process_cpu("gunicorn", "apps.wsgi"), **process_cpu("postgres:", db)}
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    cpu = cpu_since(before, "gunicorn", "apps.wsgi") + cpu_since(before, "postgres:", db)
    return times, size, cpu * 1000 / repeat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--only", default="", help="time only the pages whose name contains this")
    args = parser.parse_args()
    os.environ.setdefault("WARDEN_BENCH_DB", "warden_bench_pages")
    with live_server(workers=1) as server:
        project_id = int(server.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        import psycopg

        with psycopg.connect(server.env["DATABASE_URL"]) as conn:
            for statement in FILL.split(";\n\n"):
                conn.execute(statement, {"p": project_id, "n": args.episodes})
            long_id = conn.execute(LONG, {"p": project_id, "n": args.steps}).fetchone()[0]
            conn.execute(LONG_STEPS, {"p": project_id, "e": long_id, "n": args.steps})
            conn.execute("ANALYZE")
        counts = server.sql("SELECT (SELECT count(*) FROM traces_episode), (SELECT count(*) FROM traces_step),"
                            " (SELECT count(*) FROM policies_decision), (SELECT count(*) FROM reviews_violation),"
                            " (SELECT count(*) FROM contracts_verdict)")[0]
        session = requests.Session()
        session.get(f"{server.url}/login/")
        session.post(f"{server.url}/login/", data={"username": "bench", "password": "bench-password",
                                                     "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                     headers={"Referer": f"{server.url}/login/"})
        pages = [
            ("episode list (newest first)", "/p/bench/traces/"),
            ("episode list, sorted by decisions", "/p/bench/traces/?sort=-decisions"),
            ("episode list, page 100 sorted by cost", "/p/bench/traces/?sort=-cost&page=100"),
            ("episode list, search in tool arguments", "/p/bench/traces/?q=DE5000"),
            ("replay, 10,000-step episode", f"/p/bench/traces/e/{long_id}/"),
            ("replay, 10,000 steps, filtered to decisions", f"/p/bench/traces/e/{long_id}/?decision=any"),
            ("trace tree, 10,000 steps (500 spans drawn)", f"/p/bench/traces/e/{long_id}/trace"),
            ("dashboard, 7 days", "/p/bench/"),
            ("dashboard, 90 days", "/p/bench/?range=90d"),
            ("trace metrics (contracts), 30 days", "/p/bench/contracts/metrics/"),
            ("trace metrics, one agent", "/p/bench/contracts/metrics/?agent=agent-3"),
        ]
        if args.only:
            pages = [page for page in pages if args.only in page[0]]
        print(f"{counts[0]} episodes, {counts[1]} steps, {counts[2]} decisions, {counts[3]} violations,"
              f" {counts[4]} contract verdicts;"
              f" {args.repeat} sequential requests per page, one gunicorn sync worker")
        db = server.env["DATABASE_URL"].rsplit("/", 1)[1]
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print(f"{'page':<48} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8} {'KiB':>7}")
        if not args.only:
            pages.append(("dashboard log verification (cached per head)", "/p/bench/dashboard/log-status"))
        for name, path in pages:
            times, size, cpu = timed(session, server.url + path, args.repeat, db)
            print(f"{name:<48} {statistics.median(times):8.1f} {pct(times, 0.95):8.1f} {cpu:8.1f} {size / 1024:7.0f}")
        print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
