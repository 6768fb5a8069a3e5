"""The Runs page in Chromium: start a run from the form, follow it to the end, open its replay."""

import pytest

from apps.episodes import services
from apps.episodes.models import Run
from tests.episodes.builders import ledger_spec

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SPEC = """\
id: from-chromium
environment: {kind: ledger, rounds: 3}
agents: [{name: a, kind: scripted, plan: [[{tool: add, arguments: {amount: 4}}]]}]
regime: ungoverned
"""


def test_a_reviewer_starts_a_run_follows_it_and_opens_its_replay_with_the_snapshots(browser_login, project, reviewer):
    page = browser_login(reviewer)
    page.click("nav >> text=Runs")
    page.fill("#run-spec", "environment: {kind: ledger}\nagents: [{kind: robot}]\n")
    page.click("button[type=submit]:has-text('Start run')")
    page.wait_for_selector(".error")
    assert "agents[0].kind" in page.locator(".error").first.inner_text()
    page.fill("#run-spec", SPEC)
    page.click("button[type=submit]:has-text('Start run')")
    # Celery runs eagerly in tests, so the run has played by the time its page answers; a queued
    # run's page polls until it is done.
    page.wait_for_selector("#run-status:has-text('completed')")
    assert page.locator("#run-progress").inner_text() == "3 / 3"
    page.click("#run-replay")
    page.wait_for_selector("#run-panel")
    page.click("#snapshot-after summary")
    assert '"a": 12' in page.locator("#snapshot-after pre").inner_text()
    assert Run.objects.get(key="from-chromium").episode.step_count == 12


def test_a_viewer_watches_a_queued_run_page_poll_and_sees_no_start_form(browser_login, project, viewer,
                                                                        monkeypatch):
    monkeypatch.setattr(services, "run_enqueue", lambda *, run: None)  # no worker has taken it yet
    run, _ = services.run_create(project=project, data=ledger_spec(id="waiting"), actor="alice")
    page = browser_login(viewer)
    page.goto("/p/acme/runs/")
    assert page.locator("#run-spec").count() == 0
    page.click("text=waiting")
    page.wait_for_selector("#run-status:has-text('queued')")
    services.run_execute(run_id=run.id)  # a worker plays it meanwhile
    page.wait_for_selector("#run-status:has-text('completed')", timeout=15_000)
    assert page.locator("#run-replay").count() == 1


def test_a_reviewer_replays_a_run_under_another_policy_version_and_sees_the_changed_call(browser_login, project,
                                                                                        reviewer):
    from apps.policies import services as policies
    from tests.episodes.builders import LEDGER_POLICY

    plan = [[{"tool": "add", "arguments": {"amount": 5}}], [{"tool": "add", "arguments": {"amount": 50}}]]
    run, _ = services.run_create(project=project, data=ledger_spec(rounds=2, plan=plan), actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    version = policies.policy_publish(project=project, source=LEDGER_POLICY, actor="alice", bind_first=False)
    page = browser_login(reviewer)
    page.goto(f"/p/acme/traces/e/{run.episode_id}/")
    page.click("#replay-diff-link")
    page.wait_for_selector("#replay-diff-form")
    page.select_option("#replay-version", str(version.pk))
    page.click("#replay-diff-form button[type=submit]")
    page.wait_for_selector("#replay-diff")
    changed = page.locator("#replay-diff tr.changed")
    assert changed.count() == 1
    assert "allow" in changed.locator("td").nth(3).inner_text() and "block" in changed.locator("td").nth(5).inner_text()
    assert page.locator("#replay-diff tbody tr").count() == 2
    assert page.locator("#changed-count").inner_text() == "1"
    page.locator("#outcome-stopped a").first.click()  # back to that step in the replay
    page.wait_for_selector("#steps")
