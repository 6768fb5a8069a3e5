"""The result table as text (the `experiment` command, docs): one line per metric and condition with
its 95% interval, and against the baseline the difference, its interval and Cohen's d. Pure."""

from __future__ import annotations

MAX_METRICS = 16


def _f(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) < 1e-9:
        value = 0.0  # two equal means differ by rounding (-2.2e-16): print the difference as 0
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _ci(cell: dict | None) -> str:
    if not cell or cell.get("low") is None:
        return "-"
    return f"[{_f(cell['low'])}, {_f(cell['high'])}]"


def result_lines(results: dict, *, metrics: list[str] | None = None) -> list[str]:
    names = [m for m in (metrics or results["metrics"]) if m in results["metrics"]][:MAX_METRICS]
    versus = {c["index"]: c["metrics"] for c in results["comparisons"]}
    width = max([len(r["label"]) for r in results["conditions"]] + [9])
    mwidth = max([len(m) for m in names] + [6])
    head = (f"{'metric':<{mwidth}}  {'condition':<{width}}  {'n':>5}  {'estimate':>9}  {'95% CI':<20}  "
            f"{'vs baseline':>11}  {'95% CI':<20}  {'d':>6}")
    lines = [head, "-" * len(head)]
    for metric in names:
        first = True
        for row in results["conditions"]:
            cell = row["metrics"].get(metric)
            if cell is None:
                continue
            against = versus.get(row["index"], {}).get(metric) or {}
            diff = against.get("difference")
            label = metric if first else ""
            first = False
            estimate = "unknown" if cell["kind"] == "unknown" else _f(cell["estimate"])
            lines.append(f"{label:<{mwidth}}  {row['label']:<{width}}  {cell['n']:>5}  {estimate:>9}  "
                         f"{_ci(cell):<20}  {_f(diff['estimate']) if diff else '':>11}  "
                         f"{_ci(diff) if diff else '':<20}  {_f(against.get('cohens_d')) if diff else '':>6}")
    passk = [(row["label"], p) for row in results["conditions"] for p in row["passk"] if p["tasks"]]
    if passk:
        lines.append("")
        lines.append(f"{'Pass@k / Pass^k (' + results['success'] + ')':<{mwidth + width + 2}}  {'tasks':>5}  "
                     f"{'Pass@k':>9}  {'Pass^k':>9}")
        for label, p in passk:
            lines.append(f"{'k=' + str(p['k']):<{mwidth}}  {label:<{width}}  {p['tasks']:>5}  {_f(p['pass_at_k']):>9}  "
                         f"{_f(p['pass_hat_k']):>9}")
    return lines


def _cell(cell: dict | None, *, percent: bool) -> dict:
    if cell and cell.get("kind") == "unknown":
        return {"text": "unknown", "ci": "", "n": 0, "unknown": True}
    if not cell or cell.get("estimate") is None:
        return {"text": "–", "ci": "", "n": 0}

    def fmt(v: float | None) -> str:
        if v is None:
            return "–"
        return f"{100 * v:.1f}%" if percent else _f(v)

    ci = f"[{fmt(cell['low'])}, {fmt(cell['high'])}]" if cell.get("low") is not None else ""
    return {"text": fmt(cell["estimate"]), "ci": ci, "n": cell.get("n", 0)}


def result_grid(results: dict) -> dict:
    """The result table for the page: rows are metrics, columns conditions (estimate and 95% CI),
    then the comparisons against the baseline (difference, its CI, Cohen's d) and Pass@k / Pass^k."""
    rows, versus_rows = [], []
    comparisons = results["comparisons"]
    for metric in results["metrics"]:
        cells = [row["metrics"].get(metric) for row in results["conditions"]]
        percent = any(c and c["kind"] == "proportion" for c in cells)
        rows.append({"metric": metric, "kind": "proportion" if percent else "mean",
                     "cells": [_cell(c, percent=percent) for c in cells]})
        versus = []
        for comparison in comparisons:
            entry = comparison["metrics"].get(metric)
            if entry is None:
                versus.append({"text": "–", "ci": "", "d": ""})
                continue
            diff = _cell(entry["difference"], percent=percent)
            d = entry.get("cohens_d")
            versus.append({"text": diff["text"], "ci": diff["ci"], "d": "" if d is None else f"{d:.2f}"})
        versus_rows.append({"metric": metric, "cells": versus})
    ks = results.get("ks") or []
    passk = [{"label": row["label"], "index": row["index"],
              "cells": [_passk(next((p for p in row["passk"] if p["k"] == k), None)) for k in ks]}
             for row in results["conditions"]]
    return {"columns": [{"label": r["label"], "index": r["index"], "done": r["done"], "failed": r["failed"],
                         "baseline": r["baseline"]} for r in results["conditions"]],
            "rows": rows, "versus_columns": [c["label"] for c in comparisons], "versus_rows": versus_rows,
            "ks": ks, "passk": passk, "has_passk": any(p["tasks"] for r in results["conditions"] for p in r["passk"])}


def _passk(p: dict | None) -> dict:
    if not p or p["pass_at_k"] is None:
        return {"at": "–", "hat": "–"}
    return {"at": f"{100 * p['pass_at_k']:.1f}%", "hat": f"{100 * p['pass_hat_k']:.1f}%"}
