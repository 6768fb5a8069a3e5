"""The dashboard's Plotly figures (pure: selector rows in, figure dicts out).

Built with the `plotly` package's graph objects, which validate every property as the figure is
made (a misspelt property raises), and emitted as JSON for static/js/charts.js.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

VERDICT_COLORS = {"allow": "#2f855a", "rewrite": "#b7791f", "ask": "#d69e2e", "block": "#c53030",
                  "terminate": "#742a2a"}
SEVERITY_COLORS = {"low": "#718096", "medium": "#d69e2e", "high": "#dd6b20", "critical": "#c53030"}
STATE_COLOR = "#2b6cb0"
# Legends sit above the plot, so they never cover an axis title; margins leave room for both.
# An empty template, given when the figure is made: plotly's default one costs more to apply than
# the whole figure does to build and validate (about 10 ms a chart against 2).
_LAYOUT: dict[str, Any] = {
    "template": {}, "height": 300, "margin": {"t": 50, "r": 20, "b": 60, "l": 60},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
}


def _with_layout(traces: Any, **layout: Any) -> go.Figure:
    """The traces under `layout`, validated as one figure made with its (empty) template."""
    return go.Figure(traces, layout=layout)


def _out(figure: go.Figure) -> dict:
    """The validated figure as plain JSON data (the traces hold lists and strings only)."""
    return figure.to_plotly_json()


def decisions_figure(rows: list[dict], *, bucket: str) -> dict:
    """Stacked bars of decisions per time bucket, one colour per verdict."""
    times = sorted({row["at"] for row in rows})
    labels = [t.strftime("%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d") for t in times]
    counts = {(row["at"], row["verdict"]): row["n"] for row in rows}
    traces = ([
        go.Bar(name=verdict, x=labels, y=[counts.get((t, verdict), 0) for t in times], marker={"color": color})
        for verdict, color in VERDICT_COLORS.items()
    ])
    figure = _with_layout(traces, **_LAYOUT, barmode="stack", xaxis={"type": "category", "title": {"text": f"per {bucket} (UTC)"}},
                         yaxis={"title": {"text": "decisions"}, "rangemode": "tozero"})
    return _out(figure)


def violations_figure(rows: list[dict]) -> dict:
    """Horizontal stacked bars: violations per contract (or policy rule), split by severity."""
    names = sorted({row["name"] for row in rows}, key=lambda n: sum(r["n"] for r in rows if r["name"] == n))
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row["name"], row["severity"])] = counts.get((row["name"], row["severity"]), 0) + row["n"]
    traces = ([
        go.Bar(name=severity, orientation="h", y=names, x=[counts.get((n, severity), 0) for n in names],
               marker={"color": color})
        for severity, color in SEVERITY_COLORS.items()
    ])
    figure = _with_layout(traces, **{**_LAYOUT, "margin": {"t": 50, "r": 20, "b": 50, "l": 160}}, barmode="stack",
                         xaxis={"title": {"text": "violations"}, "rangemode": "tozero"},
                         yaxis={"type": "category", "automargin": True})
    return _out(figure)


def blocked_tools_figure(rows: list[dict]) -> dict:
    """Horizontal bars: the tools most often blocked or terminated."""
    ordered = list(reversed(rows))
    traces = (go.Bar(orientation="h", y=[r["tool"] for r in ordered], x=[r["n"] for r in ordered],
                              marker={"color": VERDICT_COLORS["block"]}, name="blocked"))
    figure = _with_layout(traces, **{**_LAYOUT, "margin": {"t": 30, "r": 20, "b": 50, "l": 160}}, showlegend=False,
                         xaxis={"title": {"text": "blocked or terminated calls"}, "rangemode": "tozero"},
                         yaxis={"type": "category", "automargin": True})
    return _out(figure)


def agents_figure(rows: list[dict]) -> dict:
    """Bars: agents per governance state (suspended agents in red)."""
    labels = [f"{r['state'] or 'no state'}{' (suspended)' if r['suspended'] else ''}" for r in rows]
    traces = (go.Bar(x=labels, y=[r["n"] for r in rows], name="agents",
                              marker={"color": [VERDICT_COLORS["block"] if r["suspended"] else STATE_COLOR
                                                for r in rows]}))
    figure = _with_layout(traces, **_LAYOUT, showlegend=False, xaxis={"type": "category", "title": {"text": "governance state"}},
                         yaxis={"title": {"text": "agents"}, "rangemode": "tozero", "dtick": 1})
    return _out(figure)


def latency_figure(latency: dict) -> dict:
    """Bars of the decision service's p50 / p95 / p99 in milliseconds."""
    names = ["p50", "p95", "p99"]
    values = [latency[n] for n in names]
    traces = (go.Bar(x=names, y=values, text=[f"{v:.3f} ms" if v is not None else "" for v in values],
                              textposition="outside", marker={"color": STATE_COLOR}, name="latency"))
    figure = _with_layout(traces, **_LAYOUT, showlegend=False, xaxis={"type": "category", "title": {"text": "percentile"}},
                         yaxis={"title": {"text": "ms per decision"}, "rangemode": "tozero"})
    return _out(figure)


def figures(data: dict) -> dict[str, dict]:
    """Every dashboard figure for the selectors' `dashboard()` output, by chart id."""
    return {
        "chart-decisions": decisions_figure(data["decisions"], bucket=data["bucket"]),
        "chart-violations": violations_figure(data["violations"]),
        "chart-blocked": blocked_tools_figure(data["blocked_tools"]),
        "chart-agents": agents_figure(data["agents"]),
        "chart-latency": latency_figure(data["latency"]),
    }
