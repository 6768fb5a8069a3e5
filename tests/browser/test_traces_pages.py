
import pytest
from playwright.sync_api import expect

from apps.traces import services

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _long_episode(project, steps=10_000):
    episode, _ = services.episode_upsert(project=project, external_id="long-run", title="Long run",
                                         agents=["bot"])
    batch = 2_000
    for start in range(0, steps, batch):
        services.steps_append_batch(episode=episode, steps=[
            {"index": i, "kind": ("message", "action", "observation")[i % 3], "agent": "bot",
             "tool": "search" if i % 3 else "", "content": f"step number {i}", "arguments": {"i": i} if i % 3 == 1 else None}
            for i in range(start, min(start + batch, steps))
        ])
    return episode


def test_a_viewer_filters_the_episode_list_and_opens_a_replay(browser_login, viewer, project):
    services.episode_upsert(project=project, external_id="shop-1", title="Buy shoes", environment="shop")
    services.episode_upsert(project=project, external_id="bank-1", title="Pay rent", environment="bank")
    page = browser_login(viewer)
    page.click("text=Episodes")
    assert page.locator("#table tbody tr").count() == 2
    page.fill("input[name=environment]", "bank")
    page.click("#episode-filters button[type=submit]")
    # A locator waits without evaluating a string in the page, which the Content-Security-Policy forbids.
    expect(page.locator("#table tbody tr")).to_have_count(1)
    assert "environment=bank" in page.url
    page.click("text=Pay rent")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("Pay rent")


def test_a_10000_step_replay_renders_a_chunk_and_loads_more_on_scroll(browser_login, viewer, project):
    episode = _long_episode(project)
    page = browser_login(viewer)
    page.goto(f"/p/acme/traces/e/{episode.id}/")
    page.wait_for_selector("#step-0")
    assert page.locator("li.step").count() == 100
    page.locator("#step-99").scroll_into_view_if_needed()
    page.wait_for_selector("#step-299")
    assert page.locator("li.step").count() == 300


def test_a_step_link_opens_the_replay_at_that_step(browser_login, viewer, project):
    episode = _long_episode(project, steps=3000)
    page = browser_login(viewer)
    page.goto(f"/p/acme/traces/x/{episode.external_id}/?at=2500")
    page.wait_for_selector("#step-2500.target")
    assert page.locator("#step-2500").is_visible()
    assert page.locator("#step-2489").count() == 0
    page.click("text=Load steps 2290")
    page.wait_for_selector("#step-2489")
