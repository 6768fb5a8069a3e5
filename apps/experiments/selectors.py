"""Reads for experiments, always scoped to one project: lists, the result table, exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from django.db.models import QuerySet

from apps.experiments import aggregate
from apps.experiments.models import Condition, Experiment, ExperimentStatus, Search, Trial, TrialStatus
from apps.tenancy.models import Project

# The metrics a reader looks for first, when a run has them; the rest follow alphabetically.
PREFERRED = ("success", "utility", "security", "secure", "collusion_tier", "severe", "collusion_index",
             "consumer_surplus", "total_welfare", "profits.total", "profits_after_fines.total", "containment_rate",
             "contract_compliance")
# Shown for every experiment: a condition where nothing measured them (no contract checked its runs,
# no fault happened) reads "unknown", never a perfect score and never a silently missing row.
ALWAYS = ("contract_compliance", "containment_rate")
UNKNOWN = {"kind": "unknown", "n": 0, "estimate": None, "low": None, "high": None}


def experiment_list(*, project: Project, filters: Mapping[str, str] | None = None) -> QuerySet[Experiment]:
    filters = filters or {}
    qs = Experiment.objects.filter(project=project)
    if filters.get("status") in ExperimentStatus.values:
        qs = qs.filter(status=filters["status"])
    return qs.order_by("-created_at", "-id")


def experiment_get(*, project: Project, experiment_id: int | str) -> Experiment | None:
    try:
        pk = int(experiment_id)
    except (TypeError, ValueError):
        return None
    return Experiment.objects.filter(project=project, pk=pk).first()


def search_list(*, project: Project, filters: Mapping[str, str] | None = None) -> QuerySet[Search]:
    """Filters: status, found (true/false)."""
    filters = filters or {}
    qs = Search.objects.filter(project=project).select_related("episode")
    if filters.get("status") in ExperimentStatus.values:
        qs = qs.filter(status=filters["status"])
    if str(filters.get("found", "")).lower() in ("true", "false"):
        qs = qs.filter(found=str(filters["found"]).lower() == "true")
    return qs.order_by("-created_at", "-id")


def search_get(*, project: Project, search_id: int | str) -> Search | None:
    try:
        pk = int(search_id)
    except (TypeError, ValueError):
        return None
    return Search.objects.filter(project=project, pk=pk).select_related("episode").first()


def condition_get(*, experiment: Experiment, index: int | str) -> Condition | None:
    try:
        return experiment.conditions.filter(index=int(index)).first()
    except (TypeError, ValueError):
        return None


def trial_list(*, condition: Condition, status: str | None = None) -> QuerySet[Trial]:
    qs = Trial.objects.filter(condition=condition).select_related("run")
    if status in TrialStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by("task", "seed", "repeat", "id")


def _ordered(names: set[str]) -> list[str]:
    first = [n for n in PREFERRED if n in names]
    return first + sorted(names - set(first))


def experiment_results(*, experiment: Experiment) -> dict:
    """The result table from the conditions' aggregation state (no trial is read): per condition
    every metric's estimate with its 95% interval, Pass@k / Pass^k, and each condition against the
    baseline (difference with its interval, Cohen's d)."""
    conditions = list(experiment.conditions.order_by("index"))
    ks = experiment.ks or [1]
    rows, names = [], set()
    for condition in conditions:
        table = aggregate.summary(state=condition.state, ks=ks)
        names |= set(table["metrics"])
        rows.append({"index": condition.index, "label": condition.label, "done": condition.done,
                     "failed": condition.failed, "metrics": table["metrics"], "passk": table["passk"],
                     "baseline": condition.index == experiment.baseline})
    for row in rows:
        for name in ALWAYS if row["metrics"] else ():  # a condition with no finished trial has no cells yet
            row["metrics"].setdefault(name, dict(UNKNOWN))
    if names:
        names |= set(ALWAYS)
    baseline = next((c for c in conditions if c.index == experiment.baseline), None)
    comparisons = []
    if baseline is not None:
        for condition in conditions:
            if condition.index != baseline.index:
                comparisons.append({"index": condition.index, "label": condition.label,
                                    "metrics": aggregate.comparison(state=condition.state, baseline=baseline.state)})
    return {"conditions": rows, "metrics": _ordered(names), "comparisons": comparisons,
            "baseline": baseline.label if baseline else None, "ks": ks, "success": experiment.success}


def results_json(*, experiment: Experiment) -> dict:
    return {
        "id": experiment.pk, "name": experiment.name, "title": experiment.title, "status": experiment.status,
        "code_version": experiment.code_version, "spec": experiment.spec, "spec_digest": experiment.spec_digest,
        "total": experiment.total, "done": experiment.done, "failed": experiment.failed,
        "cancelled": experiment.cancelled, "results": experiment_results(experiment=experiment),
    }


CSV_COLUMNS = ["condition", "metric", "kind", "n", "estimate", "low", "high", "sd", "difference", "difference_low",
               "difference_high", "cohens_d"]


def results_csv(*, experiment: Experiment) -> str:
    """One row per condition and metric (the comparison columns against the baseline), then one per
    condition and k for Pass@k / Pass^k."""
    results = experiment_results(experiment=experiment)
    against = {c["index"]: c["metrics"] for c in results["comparisons"]}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in results["conditions"]:
        for metric in results["metrics"]:
            cell = row["metrics"].get(metric)
            if cell is None:
                continue
            versus = against.get(row["index"], {}).get(metric) or {}
            difference = versus.get("difference") or {}
            writer.writerow([row["label"], metric, cell["kind"], cell["n"], cell["estimate"], cell["low"], cell["high"],
                             cell.get("sd"), difference.get("estimate"), difference.get("low"), difference.get("high"),
                             versus.get("cohens_d")])
        for p in row["passk"]:
            writer.writerow([row["label"], f"pass@{p['k']}", "passk", p["tasks"], p["pass_at_k"], "", "", "", "", "",
                             "", ""])
            writer.writerow([row["label"], f"pass^{p['k']}", "passk", p["tasks"], p["pass_hat_k"], "", "", "", "",
                             "", "", ""])
    return out.getvalue()
