"""User stories of a reviewer's day in the trace pages (issue 16): how an ask ended, search in tool
arguments and inside an episode, the trace tree of an OTLP-ingested episode, sortable lists and saved
views, grading, the dashboard's charts, keyboard shortcuts, the skip link, dark mode, 390 px.

Screenshots go to test-results/."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.policies import approvals
from apps.policies import services as policies
from apps.policies.models import Approval
from apps.traces import services
from apps.traces.models import Episode
from tests.policies.conftest import BANK
from tests.traces.builders import IBAN, injected_episode

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

RESULTS = Path(__file__).resolve().parents[2] / "test-results"


def shot(page, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)


def _injected(project):
    episode = injected_episode(project)
    services.episode_upsert(project=project, external_id="rent", title="Pay the rent", agents=["banker"])
    return episode


def test_the_replay_shows_who_approved_an_ask_and_the_note(browser_login, viewer, reviewer, project, admin,
                                                          make_key, api):
    policies.policy_publish(project=project, source=BANK, actor=admin)
    decider = api(make_key(project, scopes=["decide"]))
    decision_id = decider.post("/api/v1/decide", {"episode": "pw", "agent": "banker", "tool": "update_password",
                                                  "arguments": {"user": "bob"}}, format="json").json()["decision_id"]
    episode = Episode.objects.get(external_id="pw")
    page = browser_login(viewer)
    page.goto(f"/p/acme/traces/e/{episode.pk}/")
    expect(page.get_by_test_id("ask-outcome")).to_contain_text("Waiting for a reviewer")
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer,
                              note="customer confirmed by phone")
    page.reload()
    outcome = page.get_by_test_id("ask-outcome")
    expect(outcome).to_contain_text("Approved")
    expect(outcome).to_contain_text("rita")
    expect(outcome).to_contain_text("customer confirmed by phone")
    expect(outcome).not_to_contain_text("Waiting")
    shot(page, "replay-ask-approved")


def test_search_finds_the_injected_iban_and_filters_inside_the_episode_stay_in_the_url(browser_login, viewer,
                                                                                        project):
    episode = _injected(project)
    page = browser_login(viewer)
    page.goto("/p/acme/traces/")
    page.fill("input[name=q]", IBAN)
    page.click("#episode-filters button[type=submit]")
    expect(page.locator("#table tbody tr")).to_have_count(1)
    expect(page.locator("#table")).to_contain_text("Explain my bank fees")
    page.click("text=Explain my bank fees")
    page.check("input[name=untrusted]")
    expect(page.locator("#steps > li.step")).to_have_count(1)
    expect(page.locator("#step-2")).to_be_visible()
    assert "untrusted=true" in page.url
    page.select_option("select[name=tool]", "send_money")
    page.uncheck("input[name=untrusted]")
    expect(page.locator("#steps > li.step")).to_have_count(3)
    assert "tool=send_money" in page.url
    page.reload()  # the URL alone brings the filtered view back
    expect(page.locator("#steps > li.step")).to_have_count(3)
    page.goto(f"/p/acme/traces/e/{episode.pk}/?q={IBAN}")
    expect(page.locator("#steps > li.step")).to_have_count(2)
    shot(page, "replay-search-iban")


def test_the_trace_tree_of_an_otlp_ingested_episode(browser_login, viewer, project, live_server, make_key):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bank-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"Authorization": f"Bearer {make_key(project, scopes=['ingest'])}"})))
    tracer = provider.get_tracer("story")
    with tracer.start_as_current_span("invoke_agent banker", attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "banker", "gen_ai.conversation.id": "chat-42"}):
        for turn in range(2):
            with tracer.start_as_current_span("chat gpt-x", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 120 + turn, "gen_ai.usage.output_tokens": 30,
                    "gen_ai.usage.cost": 0.0012,
                    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Pay rent"}]}]),
                    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}])}):
                pass
            with tracer.start_as_current_span("execute_tool send_money", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send_money",
                    "gen_ai.tool.call.arguments": json.dumps({"amount": 900})}):
                pass
    provider.shutdown()
    episode = Episode.objects.get(project=project, external_id="chat-42")
    page = browser_login(viewer)
    page.goto(f"/p/acme/traces/e/{episode.pk}/")
    page.click("text=Trace tree")
    rows = page.locator("tr.span-row")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text("invoke_agent banker")
    assert rows.nth(1).get_attribute("data-depth") == "1"
    expect(rows.nth(1)).to_contain_text("120→30")
    expect(page.get_by_test_id("trace-totals")).to_contain_text("241 in · 60 out")
    expect(page.locator("tfoot")).to_contain_text("$0.0024")
    assert page.locator(".bar").count() == 5
    shot(page, "trace-tree-otlp")
    page.click("nav.subtabs >> text=Session")
    expect(page.get_by_test_id("session-totals")).to_contain_text("1 episode")


def test_a_reviewer_sorts_by_cost_and_keeps_it_as_a_saved_view(browser_login, viewer, project):
    for name, cost in (("cheap", "0.01"), ("pricey", "2.5"), ("middle", "0.3")):
        episode, _ = services.episode_upsert(project=project, external_id=name, agents=["bot"])
        services.steps_append_batch(episode=episode, steps=[{"kind": "message", "agent": "bot", "role": "assistant",
                                                             "content": "x", "tokens_in": 5, "cost": cost}])
    page = browser_login(viewer)
    page.goto("/p/acme/traces/")
    page.click("th >> text=Cost")
    expect(page.locator("#table tbody tr").first).to_contain_text("pricey")
    assert "sort=-cost" in page.url
    page.fill("#save-view-name", "Most expensive")
    page.click("#save-view button[type=submit]")
    page.goto("/p/acme/traces/")
    expect(page.locator("#table tbody tr").first).to_contain_text("middle")  # newest first again
    page.click("[data-testid=saved-view] >> text=Most expensive")
    expect(page.locator("#table tbody tr").first).to_contain_text("pricey")
    assert "sort=-cost" in page.url
    shot(page, "episode-list-saved-view")


def test_a_reviewer_grades_a_queue_of_episodes_and_exports_the_grades(browser_login, reviewer, project):
    _injected(project)
    page = browser_login(reviewer)
    page.goto("/p/acme/annotations/")
    page.fill("input[name=name]", "Hijack review")
    page.fill("input[name=names]", "hijacked")
    page.click("text=Create queue")
    expect(page.get_by_test_id("queue-progress")).to_contain_text("0 of 2 graded")
    page.click("text=Grade next →")  # the newest first: "Pay the rent", graded as a whole
    expect(page.locator("h1")).to_contain_text("Pay the rent")
    page.fill("#grades input[name=label]", "no")
    page.click("text=Add grade")
    expect(page.get_by_test_id("grades")).to_contain_text("hijacked")
    page.click("[data-testid=queue-done]")
    expect(page.locator("h1")).to_contain_text("Explain my bank fees")
    page.fill("#grades input[name=label]", "yes")
    page.fill("#grades input[name=step_index]", "2")
    page.fill("#grades input[name=comment]", "the web page planted the IBAN")
    page.click("text=Add grade")
    expect(page.get_by_test_id("grades")).to_contain_text("step #2")
    page.click("[data-testid=queue-done]")
    expect(page.get_by_test_id("queue-progress")).to_contain_text("2 of 2 graded")
    shot(page, "grading-queue-done")
    with page.expect_download() as download:
        page.click("text=CSV")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("episode,episode_id,step_index,name,value,label") and len(lines) == 3


def test_the_dashboard_draws_its_charts_with_plotly_from_the_package(browser_login, viewer, project, admin,
                                                                    make_key, api):
    policies.policy_publish(project=project, source=BANK, actor=admin)
    decider = api(make_key(project, scopes=["decide"]))
    for tool in ("read_balance", "send_money", "delete_account"):
        decider.post("/api/v1/decide", {"episode": "d1", "agent": "banker", "tool": tool,
                                        "arguments": {"recipient": "FR1", "amount": 5}}, format="json")
    page = browser_login(viewer)
    page.goto("/p/acme/")
    expect(page.locator("[data-chart=chart-decisions][data-drawn=true]")).to_have_count(1)
    expect(page.locator("[data-chart=chart-blocked][data-drawn=true]")).to_have_count(1)
    expect(page.get_by_test_id("log-status")).to_contain_text("verified")
    page.click(".range-picker >> text=24h")
    expect(page.locator(".range-picker a[aria-current]")).to_have_text("24h")
    assert "range=24h" in page.url
    expect(page.locator("[data-chart=chart-decisions][data-drawn=true]")).to_have_count(1)
    shot(page, "dashboard-charts")


def test_keyboard_steps_through_the_replay_and_the_skip_link_reaches_the_content(browser_login, viewer, project):
    episode = _injected(project)
    page = browser_login(viewer)
    page.goto(f"/p/acme/traces/e/{episode.pk}/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("#step-0")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("#step-1")).to_be_focused()
    page.keyboard.press("n")  # the next decision, untrusted step or error
    expect(page.locator("#step-2")).to_be_focused()
    page.keyboard.press("n")
    expect(page.locator("#step-4")).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator("#step-3")).to_be_focused()
    page.keyboard.press("p")
    expect(page.locator("#step-2")).to_be_focused()
    page.keyboard.press("/")
    expect(page.locator("input[name=q]")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()


def test_pages_follow_the_systems_dark_setting(browser, live_server, viewer, project):
    _injected(project)
    context = browser.new_context(base_url=live_server.url, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", viewer.username)
        page.fill("input[name=password]", "pw-for-tests")
        page.click("button[type=submit]")
        page.goto("/p/acme/traces/")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 20, 26)"
        shot(page, "episode-list-dark")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/p/acme/traces/", "/p/acme/traces/e/{id}/", "/p/acme/traces/e/{id}/trace",
                                  "/p/acme/", "/p/acme/annotations/"])
def test_trace_pages_fit_390_px_without_horizontal_scroll(browser_login, viewer, project, path):
    episode = _injected(project)
    page = browser_login(viewer)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(path.format(id=episode.pk))
    page.wait_for_load_state("networkidle")
    # The page's own content (the top bar is the base layout's, tested with the other pages).
    overflow = page.evaluate("(() => { const m = document.querySelector('main'); return m.scrollWidth - m.clientWidth; })()")
    name = path.strip("/").replace("/", "-").replace("{id}", "e") or "root"
    shot(page, f"390-{name}")
    assert overflow <= 0, f"{path}: the content is {overflow} px wider than the 390 px screen"
