"""Layout a reviewer can read, checked with the boxes Chromium draws (issue 16, the Also line): the
metrics chart's legend clear of its axis titles, the governance diagram's labels clear of each other
and of the states at 5 states, and the brand on one line in the top bar at 1280 px."""

import pytest

from apps.governance.graphs import graph_publish
from apps.governance.models import GraphVersion
from tests.browser.reviewer import shot, signed_in
from tests.contracts.builders import ingest
from tests.contracts.trace_builders import decision
from tests.governance.builders import MARKET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _overlap(a: dict, b: dict) -> float:
    w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return w * h if w > 0 and h > 0 else 0.0


def _boxes(locator) -> list[dict]:
    return [locator.nth(i).bounding_box() for i in range(locator.count())]


@pytest.mark.parametrize("width", [1280, 390])
def test_metrics_chart_legend_covers_no_axis_title(browser, live_server, project, viewer, width):
    ingest(project, "ep-m", [decision("pay", "allow"), decision("wire", "block"), decision("x", "rewrite")],
           end="completed", outcome={"success": True})
    page = signed_in(browser, live_server, "victor", "pw-for-tests", width=width)
    page.goto("/p/acme/contracts/metrics/")
    page.wait_for_selector("#governance-chart[data-drawn=true]")
    legend = page.locator("#governance-chart .legend").bounding_box()
    titles = _boxes(page.locator("#governance-chart .xtitle, #governance-chart .ytitle, #governance-chart .y2title"))
    assert len(titles) == 3
    assert all(_overlap(legend, t) == 0 for t in titles), (legend, titles)
    plot = page.locator("#governance-chart .nsewdrag").first.bounding_box()  # the plotting area
    assert _overlap(legend, plot) == 0
    shot(page, f"metrics-chart-{width}")


def test_governance_diagram_labels_do_not_collide_at_five_states(browser, live_server, project, viewer):
    project.graphs_public = True
    project.save(update_fields=["graphs_public"])
    graph_publish(project=project, source=MARKET, actor="alice")
    digest = GraphVersion.objects.get().digest
    page = signed_in(browser, live_server, "victor", "pw-for-tests")
    page.goto(f"/graphs/acme/{digest}/")
    page.wait_for_selector("svg.graph-diagram")
    assert page.locator("svg .state").count() == 5
    labels = _boxes(page.locator("svg.graph-diagram > text"))  # the edge labels (state names are in g.state)
    states = _boxes(page.locator("svg.graph-diagram .state rect"))
    assert len(labels) == 11
    collisions = [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels))
                  if _overlap(labels[i], labels[j]) > 0]
    assert collisions == []
    assert [(i, j) for i, label in enumerate(labels) for j, state in enumerate(states) if _overlap(label, state) > 0] == []
    svg = page.locator("svg.graph-diagram").bounding_box()
    assert all(svg["x"] <= b["x"] and b["x"] + b["width"] <= svg["x"] + svg["width"] for b in labels)
    shot(page, "graph-diagram-5-states")


def test_brand_stays_on_one_line_in_the_top_bar_at_1280(browser, live_server, project, admin):
    page = signed_in(browser, live_server, "alice", "pw-for-tests", width=1280)
    for path in ("/p/acme/", "/p/acme/policies/decisions/"):
        page.goto(path)
        brand = page.locator(".topbar .brand")
        box = brand.bounding_box()
        line_height = brand.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
        assert box["height"] <= line_height * 1.2, box  # one line, not "War-/den"
        tabs = page.locator(".topbar .tabs").bounding_box()
        assert box["x"] + box["width"] <= tabs["x"]  # beside the tabs, not under them
    shot(page, "topbar-1280")
