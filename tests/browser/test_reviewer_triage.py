"""A reviewer's working day in Chromium: approvals that refresh without losing a note, bulk triage
of 50 violations, comments with a history, dismissal that needs a reason."""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.policies import decisions, services
from apps.policies.records import DecideInput
from apps.reviews.models import Violation, ViolationComment
from apps.traces.models import Episode
from tests.browser.reviewer import shot, signed_in
from tests.policies.conftest import BANK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _ask(project, episode: str):
    data = DecideInput(episode=episode, agent="banker", tool="update_password", arguments={"user": "bob"})
    return decisions.decision_make(project=project, data=data, actor="test")


def test_a_new_ask_arrives_while_the_reviewer_types_a_note_and_neither_the_note_nor_the_focus_is_lost(
        browser, live_server, project, reviewer, admin):
    services.policy_publish(project=project, source=BANK, actor=admin)
    first = _ask(project, "ep-1")
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto("/p/acme/policies/approvals/")
    note = page.locator(f"#note-{first.pk}")
    note.click()
    note.type("checked with the customer by phone")
    second = _ask(project, "ep-2")  # arrives while the reviewer is typing
    page.wait_for_selector(f"#approval-{second.pk}", timeout=20_000)
    assert note.input_value() == "checked with the customer by phone"
    assert page.evaluate("document.activeElement.id") == f"note-{first.pk}"
    note.type(", approved")
    page.locator(f"#approval-{first.pk} button:has-text('Approve')").click()
    page.wait_for_selector(f"#recent-{first.pk}")
    assert page.locator(f"#approval-{first.pk}").count() == 0
    assert page.locator(f"#approval-{second.pk}").count() == 1
    assert "checked with the customer by phone, approved" in page.locator(f"#recent-{first.pk}").inner_text()
    shot(page, "approvals-live-1280")


def _violations(project, n: int, severity: str) -> list[Violation]:
    episode = Episode.objects.create(project=project, external_id=f"ep-{severity}")
    return [Violation.objects.create(project=project, episode=episode, source="contract", name=f"{severity}-{i}",
                                     severity=severity) for i in range(n)]


def test_a_reviewer_dismisses_all_50_violations_matching_a_filter_with_one_reason_each_logged(
        browser, live_server, project, reviewer):
    _violations(project, 50, "high")
    _violations(project, 3, "low")
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto("/p/acme/reviews/?severity=high")
    page.check("[data-select-all]")
    assert page.locator("input[name=ids]:checked").count() == 50
    page.select_option("select[name=action]", "dismiss")
    page.click("#bulk button[type=submit]")
    page.wait_for_selector("#table .error")
    assert "needs a reason" in page.locator("#table .error").inner_text()
    assert Violation.objects.filter(status="dismissed").count() == 0
    page.check("[data-select-all]")
    page.select_option("select[name=action]", "dismiss")
    page.fill("input[name=reason]", "load-test agent, not a real customer")
    page.click("#bulk button[type=submit]")
    page.wait_for_selector("#bulk-done")
    assert "50 violations updated" in page.locator("#bulk-done").inner_text()
    assert Violation.objects.filter(severity="high", status="dismissed").count() == 50
    assert Violation.objects.filter(severity="low", status="open").count() == 3
    governance_log_flush(project_id=project.id)
    logged = GovernanceLogEntry.objects.filter(project=project, event="violation.updated")
    assert logged.count() == 50
    assert {e.data["comment"] for e in logged} == {"load-test agent, not a real customer"}
    shot(page, "bulk-triage-50")


def test_a_reviewer_acknowledges_escalates_and_assigns_a_selection(browser, live_server, project, reviewer):
    chosen = _violations(project, 4, "medium")
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto("/p/acme/reviews/")
    for v in chosen[:2]:
        page.check(f"input[name=ids][value='{v.pk}']")
    page.select_option("select[name=action]", "escalate")
    page.click("#bulk button[type=submit]")
    page.wait_for_selector("#bulk-done")
    assert sorted(Violation.objects.filter(status="escalated").values_list("pk", flat=True)) == sorted(
        v.pk for v in chosen[:2])
    page.check(f"input[name=ids][value='{chosen[3].pk}']")
    page.select_option("select[name=action]", "assign")
    page.select_option("#bulk select[name=assign_to]", "rita")
    page.click("#bulk button[type=submit]")
    page.wait_for_selector("#bulk-done:has-text('assign: 1 violation updated')")
    assert Violation.objects.get(pk=chosen[3].pk).assignee.username == "rita"


def test_comments_build_a_history_and_a_dismissal_without_a_reason_is_refused(browser, live_server, project, reviewer):
    [violation] = _violations(project, 1, "high")
    page = signed_in(browser, live_server, "rita", "pw-for-tests")
    page.goto(f"/p/acme/reviews/{violation.pk}/")
    page.fill("#comment", "looking at the episode")
    page.click("#triage button[type=submit]")
    page.wait_for_selector("#history li:has-text('looking at the episode')")
    page.select_option("#triage select[name=status]", "dismissed")
    page.click("#triage button[type=submit]")
    page.wait_for_selector("#triage .error")
    assert "needs a reason" in page.locator("#triage .error").inner_text()
    page.select_option("#triage select[name=status]", "dismissed")
    page.fill("#comment", "a test agent")
    page.click("#triage button[type=submit]")
    page.wait_for_selector("#violation-status:has-text('dismissed')")
    history = page.locator("#history li")
    assert history.count() == 2
    assert "rita" in history.nth(0).inner_text() and "looking at the episode" in history.nth(0).inner_text()
    assert "dismissed" in history.nth(1).inner_text() and "a test agent" in history.nth(1).inner_text()
    assert list(ViolationComment.objects.values_list("text", flat=True)) == ["looking at the episode", "a test agent"]
