"""Plotly figures built from metric selectors (pure functions: data in, figure dict out)."""

COLORS = {"allow": "#2f855a", "rewrite": "#b7791f", "ask": "#d69e2e", "block": "#c53030", "terminate": "#742a2a"}


def governance_figure(metrics: dict) -> dict:
    """Stacked bars of decision outcomes per day, with contract compliance as a line on a second axis."""
    days = [row["day"] for row in metrics["series"]]
    data = [
        {"type": "bar", "name": outcome, "x": days, "y": [row["outcomes"].get(outcome, 0) for row in metrics["series"]],
         "marker": {"color": color}}
        for outcome, color in COLORS.items()
    ]
    data.append({
        "type": "scatter", "mode": "lines+markers", "name": "contract compliance", "x": days, "yaxis": "y2",
        "y": [row["compliance_rate"] for row in metrics["series"]], "line": {"color": "#2b6cb0"},
    })
    return {
        "data": data,
        "layout": {
            # The legend sits above the plot: below it (Plotly's place for a horizontal legend) it
            # covered the x axis title. The top margin leaves it room for two rows on a phone.
            "barmode": "stack", "height": 380, "margin": {"t": 70, "r": 60, "b": 50, "l": 50},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
            # Days as categories: one bar per day even when there is only one.
            "xaxis": {"type": "category", "title": {"text": "episode start (UTC day)"}},
            "yaxis": {"title": {"text": "decisions"}},
            "yaxis2": {"title": {"text": "compliance"}, "overlaying": "y", "side": "right", "range": [0, 1],
                       "tickformat": ".0%"},
        },
    }
