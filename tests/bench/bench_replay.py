"""Replay: how fast a 10,000-step episode opens, server side and in Chromium.

Starts a real gunicorn server (tests/bench/live.py), stores one 10,000-step episode through the
batch API, then times (1) the replay page's HTML response and (2) Debian's chromium loading it
until the first step is on screen.

    .venv/bin/python tests/bench/bench_replay.py [--steps 10000] [--repeat 20]
"""

import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # noqa: E401, E702, I001

import argparse
import json
import statistics
import time
import urllib.request

from tests.bench.live import live_server

SETUP = """
from django.contrib.auth import get_user_model
from apps.tenancy import services
from apps.tenancy.models import Membership
project = services.project_create(slug="bench", name="Bench")
user = get_user_model().objects.create_user("bench", password="bench-password")
Membership.objects.create(project=project, user=user, role="viewer")
_, raw = services.api_key_create(project=project, name="bench", scopes=["ingest", "read"])
print(raw)
"""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def post(url: str, key: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with live_server(workers=2) as server:
        key = server.manage("shell", "-c", SETUP).strip().splitlines()[-1]
        post(f"{server.url}/api/v1/episodes", key, {"external_id": "long", "agents": ["agent"]})
        kinds = ["message", "action", "observation", "decision"]
        for start in range(0, args.steps, 1000):
            steps = [{"index": i, "kind": kinds[i % 4], "agent": "agent", "tool": "search" if i % 4 else "",
                      "content": f"step {i} of a long episode", "arguments": {"q": i}} for i in range(start, start + 1000)]
            post(f"{server.url}/api/v1/episodes/long/steps", key, {"steps": steps})
        episode_id = server.sql("SELECT id FROM traces_episode WHERE external_id = 'long'")[0][0]
        stored = server.sql("SELECT count(*) FROM traces_step")[0][0]

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(base_url=server.url)
            page.goto("/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", "bench-password")
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            path = f"/p/bench/traces/e/{episode_id}/"
            cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            html_ms, browser_ms = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                request = urllib.request.Request(server.url + path, headers={"Cookie": cookies})
                with urllib.request.urlopen(request, timeout=30) as response:
                    size = len(response.read())
                html_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                page.goto(path)
                page.wait_for_selector("#step-0")
                browser_ms.append((time.perf_counter() - started) * 1000)
            shown = page.locator("li.step").count()
            browser.close()

    print(f"episode: {stored:,} steps stored; replay HTML {size / 1024:.0f} KiB with {shown} steps rendered first")
    print(f"replay HTML response: p50 {statistics.median(html_ms):.1f} ms, max {max(html_ms):.1f} ms ({args.repeat} runs)")
    print(f"replay in chromium until step 0 is shown: p50 {statistics.median(browser_ms):.1f} ms, "
          f"max {max(browser_ms):.1f} ms (target: well under 1 s)")


if __name__ == "__main__":
    main()
