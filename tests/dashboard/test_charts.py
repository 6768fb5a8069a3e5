"""Dashboard figures (apps/dashboard/charts.py): pure, built and validated by the plotly package."""

from datetime import UTC, datetime

import plotly.graph_objects as go
import pytest

from apps.dashboard import charts

T1, T2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


def _valid(figure: dict) -> dict:
    go.Figure(figure)  # raises on any property plotly does not know
    return figure


def test_decisions_stack_one_bar_per_verdict_per_bucket():
    figure = _valid(charts.decisions_figure([{"at": T1, "verdict": "allow", "n": 3}, {"at": T2, "verdict": "block", "n": 2},
                                             {"at": T2, "verdict": "allow", "n": 1}], bucket="day"))
    by_name = {trace["name"]: trace["y"] for trace in figure["data"]}
    assert by_name["allow"] == [3, 1] and by_name["block"] == [0, 2] and figure["layout"]["barmode"] == "stack"


def test_violations_split_each_contract_by_severity():
    figure = _valid(charts.violations_figure([{"name": "no-leak", "source": "contract", "severity": "high", "n": 4},
                                              {"name": "no-leak", "source": "contract", "severity": "low", "n": 1},
                                              {"name": "terminates", "source": "contract", "severity": "high", "n": 2}]))
    high = next(t for t in figure["data"] if t["name"] == "high")
    assert high["y"] == ["terminates", "no-leak"] and high["x"] == [2, 4]


def test_blocked_tools_put_the_most_blocked_on_top():
    figure = _valid(charts.blocked_tools_figure([{"tool": "send_money", "n": 9}, {"tool": "wipe", "n": 2}]))
    assert figure["data"][0]["y"] == ["wipe", "send_money"]


def test_agents_by_state_mark_suspended_agents():
    figure = _valid(charts.agents_figure([{"state": "probation", "suspended": False, "n": 2},
                                          {"state": "frozen", "suspended": True, "n": 1}]))
    assert figure["data"][0]["x"] == ["probation", "frozen (suspended)"]


def test_latency_shows_the_three_percentiles():
    figure = _valid(charts.latency_figure({"n": 10, "p50": 0.02, "p95": 0.05, "p99": 0.09}))
    assert figure["data"][0]["x"] == ["p50", "p95", "p99"] and figure["data"][0]["y"] == [0.02, 0.05, 0.09]


def test_the_legend_sits_above_the_plot_not_on_an_axis_title():
    layout = charts.decisions_figure([], bucket="day")["layout"]
    assert layout["legend"]["y"] > 1 and layout["legend"]["yanchor"] == "bottom"


def test_a_property_plotly_does_not_know_is_refused():
    with pytest.raises(ValueError):
        go.Figure({"data": [{"type": "bar", "colour": "red"}]})
