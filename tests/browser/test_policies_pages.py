import pytest

from apps.policies import decisions, services
from apps.policies.models import Approval
from apps.policies.records import DecideInput
from tests.policies.conftest import BANK

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_admin_validates_a_policy_sees_the_line_then_publishes_it(browser_login, admin):
    page = browser_login(admin)
    page.click("text=Policies")
    page.click("text=New policy")
    page.fill("#source", "name: shop\nrules:\n  - {tool: buy, effect: maybe}\n")
    page.click("button:has-text('Validate')")
    page.wait_for_selector("#result li.error")
    assert "line 3" in page.locator("#result").inner_text()
    page.fill("#source", BANK)
    page.click("button:has-text('Publish')")
    page.wait_for_url("**/policies/bank/")
    assert "v1" in page.locator("#versions").inner_text()


def test_reviewer_approves_a_waiting_call_in_the_queue(browser_login, reviewer, admin, project):
    services.policy_publish(project=project, source=BANK, actor=admin)
    data = DecideInput(episode="ep-b", agent="banker", tool="update_password", arguments={"user": "bob"})
    decision = decisions.decision_make(project=project, data=data, actor="test")
    page = browser_login(reviewer)
    page.click("text=Approvals")
    row = page.locator(f"#approval-{decision.pk}")
    row.locator("button:has-text('Approve')").click()
    page.wait_for_selector("text=Nothing is waiting for a reviewer.")
    assert Approval.objects.get(pk=decision.pk).status == "approved"
