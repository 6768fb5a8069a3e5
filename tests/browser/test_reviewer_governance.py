"""Governance pages in Chromium: lifting a sanction shows its effect on /decide at once; the log page
verifies and exports for a signed-in reviewer, and a long entry opens and leads to its episode."""

import pytest

from apps.audit.services import governance_log_append
from apps.governance import controller
from apps.traces.models import Episode
from tests.browser.reviewer import shot, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_lifting_a_sanction_updates_the_effect_on_decide_without_a_reload(browser, live_server, project, reviewer):
    controller.sanction_apply(project=project, agent="trader", kind="revoke", tool="send_*", actor="alice",
                              reason="spamming rivals")
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto("/p/acme/governance/agents/trader/")
    assert "no send_*" in page.locator("#decide-effect").inner_text()
    page.evaluate("window.notReloaded = true")
    page.fill("#sanctions input[aria-label='Reason for lifting']", "appeal granted")
    page.click("#sanctions button:has-text('Lift')")
    page.wait_for_selector("#decide-effect:has-text('none')")
    assert "no send_*" not in page.locator("#decide-effect").inner_text()
    assert page.evaluate("window.notReloaded") is True


def test_a_reviewer_verifies_and_exports_the_log_and_follows_a_long_entry_to_its_episode(
        browser, live_server, project, viewer):
    episode = Episode.objects.create(project=project, external_id="ep-long")
    governance_log_append(project=project, event="decision", actor="key:runtime",
                          data={"decision_id": 7, "episode": "ep-long", "tool": "send_money",
                                "arguments": {"note": "x" * 400}})
    page = signed_in(browser, live_server, "victor", "pw-for-tests")
    page.goto("/p/acme/governance/log/")
    page.wait_for_selector("#verify-badge:has-text('chain verified')")
    page.click("#verify-now")
    page.wait_for_selector("#verify-badge:has-text('chain verified · 1 entries')")
    with page.expect_download() as download:
        page.click("#export-log")
    body = open(download.value.path()).read()
    assert '"event":"decision"' in body.replace(" ", "") or '"decision"' in body
    entry = page.locator("#entry-1")
    entry.locator("details summary").click()
    assert "x" * 400 in entry.locator("details pre").inner_text()
    shot(page, "governance-log")
    entry.locator("a.follow:has-text('episode ep-long')").click()
    page.wait_for_url(f"**/traces/e/{episode.pk}/**")
