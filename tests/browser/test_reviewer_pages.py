"""Every page on a phone (390 px) and a laptop (1280 px), and the one violation page that answers
what happened, why, from which input and what to do, on the demo project."""

import pytest
from django.core.management import call_command

from apps.contracts.models import Contract
from apps.governance.models import AgentState
from apps.policies.models import Approval, Policy
from apps.reviews.models import Violation
from apps.traces.models import Episode
from tests.browser.reviewer import horizontal_overflow, shot, signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DEMO_PASSWORD = "warden-demo"


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")


def _pages() -> list[str]:
    p = "/p/demo"
    episode = Episode.objects.get(external_id="demo-injection")
    violation = Violation.objects.get(episode=episode, source="policy")
    policy = Policy.objects.filter(project__slug="demo").first()
    contract = Contract.objects.filter(project__slug="demo").first()
    agent = AgentState.objects.filter(project__slug="demo").first()
    pages = [f"{p}/", f"{p}/traces/", f"{p}/traces/e/{episode.pk}/", f"{p}/policies/", f"{p}/policies/new/",
             f"{p}/policies/{policy.name}/", f"{p}/policies/approvals/", f"{p}/policies/decisions/",
             f"{p}/contracts/", f"{p}/contracts/{contract.name}/", f"{p}/contracts/whatif/", f"{p}/contracts/metrics/",
             f"{p}/reviews/", f"{p}/reviews/{violation.pk}/", f"{p}/governance/", f"{p}/governance/graphs/",
             f"{p}/governance/log/", f"{p}/runs/", f"{p}/experiments/", f"{p}/members/", f"{p}/keys/"]
    if agent:
        pages.append(f"{p}/governance/agents/{agent.agent}/")
    return pages


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_fits_the_screen_with_log_out_visible(browser, live_server, demo, width):
    page = signed_in(browser, live_server, "admin", DEMO_PASSWORD, width=width, height=844 if width == 390 else 900)
    wide = []
    for path in _pages():
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        if horizontal_overflow(page) > 0:
            wide.append((path, page.evaluate("document.documentElement.scrollWidth")))
        logout = page.locator("form.logout button")
        assert logout.is_visible(), path
        box = logout.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, path
    assert wide == [], f"pages wider than {width} px: {wide}"


def test_on_a_phone_approve_and_deny_are_on_screen(browser, live_server, demo):
    page = signed_in(browser, live_server, "reviewer", DEMO_PASSWORD, width=390, height=844)
    page.goto("/p/demo/policies/approvals/")
    ask = Approval.objects.get(project__slug="demo", status="pending")
    row = page.locator(f"#approval-{ask.pk}")
    for label in ("Approve", "Deny"):
        button = row.locator(f"button:has-text('{label}')")
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, label
    assert horizontal_overflow(page) == 0
    page.screenshot(path=str(shot(page, "approvals-390")))
    row.locator("input[name=note]").fill("confirmed by phone")
    row.locator("button:has-text('Approve')").click()
    page.wait_for_selector(f"#recent-{ask.pk}")
    assert Approval.objects.get(pk=ask.pk).status == "approved"


def test_the_violation_page_says_what_happened_why_from_which_input_and_what_to_do(browser, live_server, demo):
    page = signed_in(browser, live_server, "reviewer", DEMO_PASSWORD)
    page.click("nav >> text=Violations")
    assert page.locator("nav [aria-current=page]").inner_text() == "Violations"
    violation = Violation.objects.get(episode__external_id="demo-injection", source="policy")
    page.goto(f"/p/demo/reviews/{violation.pk}/")
    what = page.locator("#what").inner_text()
    assert "send_money" in what and "block" in what
    assert page.locator("#decision-message").inner_text().strip() != "Runtime was told: (no message)"
    assert "recipient" in page.locator("#decision-arguments").inner_text()
    assert page.locator("#failed-constraint").count() == 1
    source = page.locator("#tainted-by a, #finding a").first
    href = source.get_attribute("href")
    assert "#step-" in href
    tainted_step = int(href.rsplit("#step-", 1)[1])
    assert tainted_step < violation.first_step_index
    assert "untrusted" in page.locator("#input").inner_text()
    assert page.locator("#triage button[type=submit]").is_visible()
    shot(page, "violation-page")
    source.click()
    page.wait_for_selector(f"#step-{tainted_step}")


def test_decisions_are_in_the_navigation_and_the_current_tab_is_marked(browser, live_server, demo):
    page = signed_in(browser, live_server, "viewer", DEMO_PASSWORD)
    page.click("nav >> text=Decisions")
    page.wait_for_url("**/policies/decisions/")
    assert page.locator("nav [aria-current=page]").inner_text() == "Decisions"
    assert page.locator("nav [aria-current=page]").count() == 1


def test_missing_and_forbidden_pages_are_styled_and_the_favicon_is_served(browser, live_server, demo):
    page = signed_in(browser, live_server, "viewer", DEMO_PASSWORD)
    response = page.goto("/p/demo/reviews/999999/")
    assert response.status == 404
    assert page.locator("header.topbar").count() == 1 and page.locator("h1").inner_text() == "Not found"
    response = page.goto("/p/demo/members/")
    assert response.status == 403
    assert page.locator("header.topbar").count() == 1 and page.locator("h1").inner_text() == "Not allowed"
    assert page.request.get("/favicon.ico").status == 200
