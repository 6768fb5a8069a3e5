"""The result table as text (the `experiment` command, docs): one line per metric and condition with
its 95% interval, and against the baseline the difference, its interval and Cohen's d. Pure."""

from __future__ import annotations

MAX_METRICS = 16


def _f(value: float | None) -> str:
    if value is None:
        return "-"
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
            lines.append(f"{label:<{mwidth}}  {row['label']:<{width}}  {cell['n']:>5}  {_f(cell['estimate']):>9}  "
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
