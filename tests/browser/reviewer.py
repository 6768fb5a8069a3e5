"""Helpers for the reviewer browser tests: a signed-in page at a given width, screenshots kept as
test artifacts under test-results/ (gitignored)."""

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


def signed_in(browser, live_server, username: str, password: str, width: int = 1280, height: int = 900):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
