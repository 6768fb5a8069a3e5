"""Experiment specs: YAML in, a validated plan out. Pure (PyYAML only, no Django).

```yaml
name: cournot-regimes              # required: letters, digits, - and _
title: Collusion under three regimes
run:                               # the run spec every condition starts from (see docs/episodes.md)
  environment: {name: cournot, firms: 2, rounds: 100}
  agent: {name: qlearning}
matrix:                            # every combination of these overrides is one condition
  regime: [ungoverned, constitutional, institutional]
conditions:                        # and/or explicit conditions: a label and overrides
  - {label: cartel baseline, agent: {name: cartel}}
tasks: [{task: user_task_0}, ...]  # optional units inside each condition (Pass@k groups by task)
seeds: 30                          # or [3, 5, 8] or {from: 100, count: 30}
repeats: 1                         # runs per (condition, task, seed)
baseline: ungoverned               # the condition others are compared with (default: the first)
success: utility                   # the boolean metric Pass@k / Pass^k count (default: success)
k: [1, 3]                          # Pass@k / Pass^k for these k
max_in_flight: 64                  # runs queued or running at once
charts: [mean_tier, severe]        # metrics to chart (default: the first twelve)
```

Overrides are deep-merged over `run` (mappings merge, anything else replaces). Errors name the field,
e.g. `matrix.regime: must be a non-empty list`.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from apps.core.documents import DocumentError, load_document, plain

MAX_TRIALS = 100_000
MAX_IN_FLIGHT = 1_000
DEFAULT_IN_FLIGHT = 64
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
KEYS = {"name", "title", "description", "run", "matrix", "conditions", "tasks", "seeds", "repeats", "baseline",
        "success", "k", "max_in_flight", "notes", "charts"}


class SpecError(ValueError):
    """A spec problem at one field: `str()` reads `field: message`."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Condition:
    index: int
    label: str
    overrides: dict
    run: dict  # the merged run spec, without seed


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    spec: dict  # the parsed document, as stored
    conditions: list[Condition]
    tasks: list[dict]
    seeds: list[int]
    repeats: int
    baseline: int  # index of the baseline condition
    success: str
    k: list[int]
    max_in_flight: int
    trials: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "trials", len(self.conditions) * len(self.tasks) * len(self.seeds) * self.repeats)


def deep_merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def task_key(task: dict) -> str:
    """A stable, readable key for a task (unit) inside a condition."""
    if not task:
        return "-"
    return ",".join(f"{k}={_short(v)}" for k, v in sorted(task.items()))


def trial_seed(*, seed: int, repeat: int) -> int:
    """The seed a run gets: the spec's seed itself for the first repeat, a derived one after, so
    repeats of a stochastic agent differ while `seeds` alone still reproduces every run."""
    return seed if repeat == 0 else seed * 1_000_003 + repeat


def spec_load(source: str | dict) -> Plan:
    """Parses and validates a spec (YAML text or an already parsed mapping)."""
    if isinstance(source, str):
        try:
            doc = plain(load_document(source).data)
        except DocumentError as exc:
            raise SpecError("source", str(exc)) from None
    else:
        doc = copy.deepcopy(source)
    if not isinstance(doc, dict):
        raise SpecError("source", "must be a mapping with at least name and run")
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        raise SpecError(unknown[0], f"unknown field (use {', '.join(sorted(KEYS))})")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError("name", "required: up to 100 letters, digits, '.', '-' or '_'")
    title = doc.get("title", name)
    if not isinstance(title, str):
        raise SpecError("title", "must be text")
    run = doc.get("run")
    if not isinstance(run, dict) or not run:
        raise SpecError("run", "required: the run spec every condition starts from")
    if "seed" in run:
        raise SpecError("run.seed", "seeds are set by the experiment's `seeds`")
    conditions = _conditions(doc, run)
    tasks = _tasks(doc.get("tasks"))
    seeds = _seeds(doc.get("seeds", 1))
    repeats = _int(doc.get("repeats", 1), "repeats", low=1, high=1000)
    labels = [c.label for c in conditions]
    baseline = _baseline(doc.get("baseline", labels[0]), labels)
    success = doc.get("success", "success")
    if not isinstance(success, str) or not success:
        raise SpecError("success", "must be a metric name")
    ks = doc.get("k", [1])
    ks = [ks] if isinstance(ks, int) else ks
    if not isinstance(ks, list) or not ks:
        raise SpecError("k", "must be a number or a list of numbers")
    ks = [_int(v, f"k[{i}]", low=1, high=1000) for i, v in enumerate(ks)]
    in_flight = _int(doc.get("max_in_flight", DEFAULT_IN_FLIGHT), "max_in_flight", low=1, high=MAX_IN_FLIGHT)
    plan = Plan(name=name, title=title, spec=doc, conditions=conditions, tasks=tasks, seeds=seeds, repeats=repeats,
                baseline=baseline, success=success, k=sorted(set(ks)), max_in_flight=in_flight)
    if plan.trials > MAX_TRIALS:
        raise SpecError("seeds", f"{plan.trials} runs planned; at most {MAX_TRIALS} per experiment")
    return plan


def _conditions(doc: dict, run: dict) -> list[Condition]:
    explicit = doc.get("conditions")
    matrix = doc.get("matrix")
    rows: list[tuple[str, dict]] = []
    if explicit is not None:
        if not isinstance(explicit, list) or not explicit:
            raise SpecError("conditions", "must be a non-empty list")
        for i, item in enumerate(explicit):
            if not isinstance(item, dict):
                raise SpecError(f"conditions[{i}]", "must be a mapping of overrides (with an optional label)")
            item = dict(item)
            label = item.pop("label", None)
            if label is not None and not isinstance(label, str):
                raise SpecError(f"conditions[{i}].label", "must be text")
            if "seed" in item:
                raise SpecError(f"conditions[{i}].seed", "seeds are set by the experiment's `seeds`")
            rows.append((label or _label(item) or f"condition {i + 1}", item))
    else:
        rows.append(("", {}))
    if matrix is not None:
        if not isinstance(matrix, dict) or not matrix:
            raise SpecError("matrix", "must map run fields to lists of values")
        axes = []
        for key, values in matrix.items():
            if key == "seed":
                raise SpecError("matrix.seed", "seeds are set by the experiment's `seeds`")
            if not isinstance(values, list) or not values:
                raise SpecError(f"matrix.{key}", "must be a non-empty list")
            axes.append([(key, v) for v in values])
        combined = []
        for label, overrides in rows:
            for combo in itertools.product(*axes):
                extra = dict(combo)
                parts = [p for p in (label, _label(extra)) if p]
                combined.append((", ".join(parts), deep_merge(overrides, extra)))
        rows = combined
    if rows == [("", {})]:
        rows = [("all", {})]
    labels = [label for label, _ in rows]
    duplicate = next((lab for lab in labels if labels.count(lab) > 1), None)
    if duplicate is not None:
        raise SpecError("conditions", f"two conditions are labelled '{duplicate}': give each a distinct label")
    return [Condition(index=i, label=label, overrides=overrides, run=deep_merge(run, overrides))
            for i, (label, overrides) in enumerate(rows)]


def _baseline(value: Any, labels: list[str]) -> int:
    """A condition's label, or a value that picks out one condition (`ungoverned` for
    `regime=ungoverned`)."""
    if value in labels:
        return labels.index(value)
    matches = [i for i, label in enumerate(labels) if str(value) in [p.split("=", 1)[-1] for p in label.split(", ")]]
    if len(matches) != 1:
        raise SpecError("baseline", f"no single condition is '{value}' (have: {'; '.join(labels)})")
    return matches[0]


def _tasks(tasks: Any) -> list[dict]:
    if tasks is None:
        return [{}]
    if not isinstance(tasks, list) or not tasks:
        raise SpecError("tasks", "must be a non-empty list of run overrides")
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not task:
            raise SpecError(f"tasks[{i}]", "must be a mapping of run overrides, e.g. {task: user_task_0}")
        if "seed" in task:
            raise SpecError(f"tasks[{i}].seed", "seeds are set by the experiment's `seeds`")
    keys = [task_key(t) for t in tasks]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate is not None:
        raise SpecError("tasks", f"task {duplicate} is listed twice")
    return [dict(t) for t in tasks]


def _seeds(value: Any) -> list[int]:
    if isinstance(value, bool):
        raise SpecError("seeds", "must be a count, a list of integers or {from, count}")
    if isinstance(value, int):
        count = _int(value, "seeds", low=1, high=MAX_TRIALS)
        return list(range(count))
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"from", "count"})
        if unknown:
            raise SpecError(f"seeds.{unknown[0]}", "unknown field (use from, count)")
        start = _int(value.get("from", 0), "seeds.from", low=0, high=2**53)
        count = _int(value.get("count"), "seeds.count", low=1, high=MAX_TRIALS)
        return list(range(start, start + count))
    if isinstance(value, list) and value:
        seeds = [_int(v, f"seeds[{i}]", low=0, high=2**53) for i, v in enumerate(value)]
        if len(set(seeds)) != len(seeds):
            raise SpecError("seeds", "a seed is listed twice")
        return seeds
    raise SpecError("seeds", "must be a count, a list of integers or {from, count}")


def _int(value: Any, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, "must be an integer")
    if not low <= value <= high:
        raise SpecError(name, f"must be between {low} and {high}")
    return value


def _label(overrides: dict) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in overrides.items())


def _short(value: Any) -> str:
    if isinstance(value, dict):
        if "name" in value:
            rest = {k: v for k, v in value.items() if k != "name"}
            return str(value["name"]) + (f"({_label(rest)})" if rest else "")
        return "{" + _label(value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return str(value)
