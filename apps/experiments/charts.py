"""Plotly figures of experiment results (pure: the result table in, figure dicts out).

Built with the `plotly` package's graph objects and emitted as JSON for static/js/charts.js.
"""

from __future__ import annotations

import json

import plotly.graph_objects as go

MAX_CHARTS = 12
PALETTE = ["#2b6cb0", "#c53030", "#2f855a", "#b7791f", "#6b46c1", "#2c7a7b", "#97266d", "#4a5568"]


def metric_figure(*, results: dict, metric: str) -> dict:
    """One bar per condition: the estimate with its 95% interval as error bars."""
    labels, estimates, up, down, texts = [], [], [], [], []
    for row in results["conditions"]:
        cell = row["metrics"].get(metric)
        if cell is None or cell["estimate"] is None:
            continue
        estimate = cell["estimate"]
        low = cell["low"] if cell["low"] is not None else estimate
        high = cell["high"] if cell["high"] is not None else estimate
        labels.append(row["label"])
        estimates.append(estimate)
        up.append(high - estimate)
        down.append(estimate - low)
        texts.append(f"n={cell['n']}, 95% CI [{low:.3g}, {high:.3g}]")
    proportion = any(row["metrics"].get(metric, {}).get("kind") == "proportion" for row in results["conditions"])
    figure = go.Figure(
        go.Bar(x=labels, y=estimates, hovertext=texts, marker={"color": PALETTE[: len(labels)] or PALETTE[0]},
               error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down, "visible": True}),
    )
    figure.update_layout(
        template="none", title={"text": metric}, height=320, margin={"t": 40, "r": 20, "b": 80, "l": 50}, showlegend=False,
        xaxis={"type": "category"}, yaxis={"tickformat": ".0%" if proportion else None, "rangemode": "tozero"},
    )
    return json.loads(figure.to_json())


def chart_metrics(*, results: dict, chosen: list[str] | None = None) -> list[str]:
    """The metrics to chart: the spec's `charts` list, else the first few the table has."""
    # A metric no condition measured (every cell unknown) has nothing to draw.
    names = [m for m in results["metrics"]
             if any((row["metrics"].get(m) or {}).get("estimate") is not None for row in results["conditions"])]
    if chosen:
        return [m for m in chosen if m in names][:MAX_CHARTS]
    return names[:MAX_CHARTS]


def experiment_figures(*, results: dict, chosen: list[str] | None = None) -> list[dict]:
    return [{"id": f"chart-{i}", "metric": m, "figure": metric_figure(results=results, metric=m)}
            for i, m in enumerate(chart_metrics(results=results, chosen=chosen), start=1)]
