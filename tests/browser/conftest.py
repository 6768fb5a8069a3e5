"""Browser tests: Debian's chromium driven by Playwright against Django's live server.

`browser_login(user)` returns a Playwright page with that user's session, ready to `goto`
a path relative to the live server. Pages run under the app's Content-Security-Policy (no
eval): wait with locators (`expect(locator).to_have_count(n)`), not `page.wait_for_function("…")`.
"""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("WARDEN_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; Django must allow sync DB calls here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: `make test` installs it, or apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_login(browser, live_server):
    contexts = []

    def make(user):
        context = browser.new_context(base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw-for-tests")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    yield make
    for context in contexts:
        context.close()
