import pytest

from apps.contracts import services
from apps.reviews.models import Violation
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act, decision, say

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_admin_publishes_a_contract_and_sees_a_line_numbered_error_first(browser_login, admin):
    page = browser_login(admin)
    page.click("nav >> text=Contracts")
    page.fill("#contract-source", "name: broken\nrules:\n  - never: {tol: x}\n")
    page.click("button[type=submit]:has-text('Publish')")
    page.wait_for_selector(".error")
    assert "line 3" in page.locator(".error").first.inner_text()
    page.fill("#contract-source", NO_DELETE)
    page.click("button[type=submit]:has-text('Publish')")
    page.wait_for_selector("text=Published")
    assert page.locator("td a", has_text="no-deletes").count() == 1


def test_reviewer_escalates_a_violation_without_a_page_reload(browser_login, project, reviewer):
    publish(project, NO_DELETE)
    services.episode_check(episode=ingest(project, "ep-b", [say("x"), act("delete_file")], end="completed"))
    violation = Violation.objects.get()
    page = browser_login(reviewer)
    page.goto("/p/acme/reviews/")
    page.select_option("select[name=severity]", "high")
    page.wait_for_selector("#table >> text=ep-b")
    page.click(f"text=#{violation.pk}")
    page.select_option("#triage select[name=status]", "escalated")
    page.fill("#comment", "call the bank")
    page.click("#triage >> text=Save")
    page.wait_for_selector("text=Saved.")
    assert page.locator("#violation-status").inner_text() == "escalated"
    assert "call the bank" in page.locator("#history").inner_text()


def test_metrics_page_draws_the_governance_chart(browser_login, project, viewer):
    ingest(project, "ep-m", [decision("pay", "allow"), decision("wire", "block")], end="completed",
           outcome={"success": True})
    page = browser_login(viewer)
    page.goto("/p/acme/contracts/metrics/")
    page.wait_for_selector("#governance-chart[data-drawn=true]")
    assert page.locator("#governance-chart .main-svg").count() >= 1
