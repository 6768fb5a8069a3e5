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
