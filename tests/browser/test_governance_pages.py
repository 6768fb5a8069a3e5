import pytest

from apps.governance.graphs import graph_publish
from apps.governance.selectors import agent_governance_state
from tests.governance.builders import MARKET, play_round

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_reviewer_sanctions_an_agent_and_lifts_it_again(browser_login, reviewer, project):
    page = browser_login(reviewer)
    page.click("text=Governance")
    page.fill("input[name=agent]", "trader")
    page.select_option("select[name=kind]", "revoke")
    page.fill("input[name=tool]", "send_*")
    page.fill("input[name=reason]", "spamming rivals")
    page.click("text=Apply sanction")
    page.wait_for_selector("text=spamming rivals")
    assert agent_governance_state(project=project, agent="trader")["revoked_tools"] == ["send_*"]
    page.fill("#sanctions input[aria-label='Reason for lifting']", "appeal granted")
    page.click("#sanctions button:has-text('Lift')")
    page.wait_for_selector("text=appeal granted")
    assert agent_governance_state(project=project, agent="trader")["revoked_tools"] == []


def test_log_page_shows_a_verified_badge(browser_login, viewer, project):
    graph_publish(project=project, source=MARKET, actor="alice")
    page = browser_login(viewer)
    page.goto("/p/acme/governance/log/")
    page.wait_for_selector("text=chain verified")
    assert page.locator("td", has_text="graph.published").count() == 1


def test_admin_validates_a_graph_and_the_public_page_draws_it(browser_login, admin, project):
    page = browser_login(admin)
    page.goto("/p/acme/governance/graphs/")
    page.fill("textarea[name=source]", MARKET.replace("to: restricted\n", "to: jail\n"))
    page.click("text=Validate")
    page.wait_for_selector("#graph-problems")
    assert "unknown state 'jail'" in page.locator("#graph-problems").inner_text()
    page.fill("textarea[name=source]", MARKET)
    page.click("text=Publish and put in force")
    page.wait_for_selector("#graph-published")
    page.click("#graph-published a")
    page.wait_for_selector("svg.graph-diagram")
    assert page.locator("svg .state").count() == 5


def test_agent_page_shows_the_state_the_controller_chose(browser_login, viewer, project):
    graph_publish(project=project, source=MARKET, actor="alice")
    play_round(project, "trader", violations=[("critical", 1)])
    page = browser_login(viewer)
    page.goto("/p/acme/governance/")
    page.click("text=trader")
    assert page.locator("#agent-state").inner_text() == "suspended"
