import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_admin_logs_in_and_creates_an_api_key_shown_once(browser_login, admin):
    page = browser_login(admin)
    assert page.url.endswith("/p/acme/")
    page.click("text=API keys")
    page.fill("input[name=name]", "runtime")
    page.check("input[value=decide]")
    page.click("text=Create key")
    secret = page.locator("#new-key").inner_text()
    assert secret.startswith("wdn_")
    page.reload()
    assert page.locator("#new-key").count() == 0
    assert page.locator("td", has_text="runtime").count() == 1


def test_static_assets_are_served_locally(browser_login, viewer):
    page = browser_login(viewer)
    assert page.evaluate("typeof htmx") == "object"


def test_pages_run_under_the_content_security_policy_and_the_switcher_opens_a_project(
        browser_login, admin, other_project):
    from apps.tenancy.models import Membership, Role

    Membership.objects.create(project=other_project, user=admin, role=Role.VIEWER)
    page = browser_login(admin)
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(page.url)  # the overview again, now watched
    page.select_option("#project-switcher", "globex")
    page.wait_for_url("**/p/globex/")
    assert refused == []
