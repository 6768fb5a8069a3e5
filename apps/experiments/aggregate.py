"""Per-condition results from trial metrics: pure functions over JSON-able state (no Django).

A condition's state is three mappings kept in its row: moments {metric: [n, mean, m2]} for
numbers, proportions {metric: [successes, n]} for booleans, passk {task: [runs, successes]} for
the success metric. `accumulate` adds one trial; `summary` and `comparison` turn state into the
result table with 95% intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from apps.experiments import stats

MAX_METRICS = 80


def flatten_metrics(metrics: Mapping[str, Any], *, prefix: str = "") -> dict[str, float | bool]:
    """Numbers and booleans of a run's outcome metrics, nested mappings one level down as
    `name.key` plus `name.total` for a mapping of numbers (per-agent profits, say)."""
    flat: dict[str, float | bool] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            flat[name] = value
        elif isinstance(value, int | float):
            if math.isfinite(value):
                flat[name] = float(value)
        elif isinstance(value, Mapping) and not prefix:
            inner = flatten_metrics(value, prefix=f"{name}.")
            flat.update(inner)
            numbers = [v for v in inner.values() if not isinstance(v, bool)]
            if numbers and len(numbers) == len(inner) and len(inner) > 1:
                flat[f"{name}.total"] = math.fsum(numbers)
        if len(flat) >= MAX_METRICS:
            break
    return flat


def accumulate(*, state: dict, metrics: Mapping[str, float | bool], task_key: str, success: str) -> None:
    """Adds one trial's metrics to a condition's state (mutated in place)."""
    moments, proportions, passk = state.setdefault("moments", {}), state.setdefault("proportions", {}), \
        state.setdefault("passk", {})
    for name, value in metrics.items():
        if isinstance(value, bool):
            hits, n = proportions.get(name, [0, 0])
            proportions[name] = [hits + int(value), n + 1]
        elif value is not None:
            moments[name] = stats.Moments.from_list(moments.get(name)).add(value).as_list()
    outcome = metrics.get(success)
    if isinstance(outcome, bool):
        runs, hits = passk.get(task_key, [0, 0])
        passk[task_key] = [runs + 1, hits + int(outcome)]


def merge_states(into: dict, other: Mapping) -> None:
    """Merges another batch's state into `into` (same shapes as accumulate builds)."""
    for name, data in other.get("moments", {}).items():
        merged = stats.Moments.from_list(into.setdefault("moments", {}).get(name)).merge(stats.Moments.from_list(data))
        into["moments"][name] = merged.as_list()
    for key in ("proportions", "passk"):
        bucket = into.setdefault(key, {})
        for name, (a, b) in other.get(key, {}).items():
            x, y = bucket.get(name, [0, 0])
            bucket[name] = [x + a, y + b]


def summary(*, state: Mapping, ks: list[int]) -> dict:
    """{metric: interval dict} for every metric of the condition, and Pass@k / Pass^k per k."""
    rows: dict[str, dict] = {}
    for name, data in sorted(state.get("moments", {}).items()):
        m = stats.Moments.from_list(data)
        rows[name] = {"kind": "mean", "sd": _num(m.sd), **stats.mean_ci(m).as_dict()}
    for name, (hits, n) in sorted(state.get("proportions", {}).items()):
        rows[name] = {"kind": "proportion", "successes": hits, **stats.proportion_ci(hits, n).as_dict()}
    tasks = list(state.get("passk", {}).values())
    passk = [stats.passk_mean([(int(n), int(c)) for n, c in tasks], k) for k in ks] if tasks else []
    return {"metrics": rows, "passk": passk}


def comparison(*, state: Mapping, baseline: Mapping) -> dict:
    """{metric: {difference: interval, cohens_d}} of this condition minus the baseline, for the
    metrics both have. Cohen's d only for numeric metrics (for a rate the difference is the effect)."""
    rows: dict[str, dict] = {}
    ours, theirs = state.get("moments", {}), baseline.get("moments", {})
    for name in sorted(set(ours) & set(theirs)):
        a, b = stats.Moments.from_list(ours[name]), stats.Moments.from_list(theirs[name])
        rows[name] = {"kind": "mean", "difference": stats.mean_difference_ci(a, b).as_dict(),
                      "cohens_d": _num(stats.cohens_d(a, b))}
    ours, theirs = state.get("proportions", {}), baseline.get("proportions", {})
    for name in sorted(set(ours) & set(theirs)):
        (ha, na), (hb, nb) = ours[name], theirs[name]
        rows[name] = {"kind": "proportion", "difference": stats.proportion_difference_ci(ha, na, hb, nb).as_dict(),
                      "cohens_d": None}
    return rows


def _num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
