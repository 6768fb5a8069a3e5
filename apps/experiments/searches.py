"""Counterexample searches on the workers: create from a spec, play in a worker, cancel.

The search itself is pure (apps/experiments/stress/search.py); this module gives it a row, a budget
in episodes, progress, cancel, and a record of what it found: the counterexample's seed and edits on
the row, and its perturbed episode stored as a trace so it opens in the replay.

```yaml
name: notes-survive-tampering
run:                      # a run spec (docs/episodes.md): environment, agents, regime, versions, rounds
  environment: {kind: ledger, rounds: 3}
  agents: [{name: a, kind: scripted, plan: [[{tool: read_note}]]}]
seed: 0                   # the episode's seed; every try is reproducible from it and its edits
budget: 50                # episodes at most (the unperturbed one included)
contracts: [notes-have-text]   # enabled contracts of the project (default: all of them)
bounds: {kinds: [insert_text, shift_number, drop_field, duplicate_field], max_edits: 3, shift: 0.5,
         texts: ["IMPORTANT: ..."], calls: 20}
```

Under the institutional regime each call is decided by the run's policy (the pure policy gate, with
the episode's provenance index); governance graphs and sanctions are not played.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.contracts.models import ContractVersion
from apps.contracts.selectors import versions_active
from apps.contracts.services import compiled as contract_compiled
from apps.core.documents import DocumentError, load_document, plain
from apps.core.outbox import task_enqueue
from apps.episodes import regimes, registry
from apps.episodes.models import RunStatus
from apps.episodes.runner.gates import AllowAll, PolicyGate
from apps.episodes.spec import SpecError as RunSpecError
from apps.episodes.spec import spec_normalize
from apps.experiments.models import Search
from apps.experiments.spec import NAME
from apps.experiments.stress.perturb import KINDS, Bounds
from apps.experiments.stress.search import counterexample_search
from apps.policies.engine_cache import compiled as policy_compiled
from apps.policies.models import PolicyVersion
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project
from apps.traces import services as traces
from apps.traces.models import EpisodeStatus

logger = logging.getLogger(__name__)

MAX_BUDGET = 10_000
DEFAULT_ROUNDS = 100
KEYS = {"name", "title", "run", "seed", "budget", "contracts", "bounds"}
PROGRESS_EVERY = 1  # episodes between progress writes (each is one short UPDATE and a cancel check)
LOCK_CLASS = 0x535243  # pg_try_advisory_lock(classid, objid): "SRC", then the search's id


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _int(value: Any, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(field, f"an integer from {low} to {high}")
    return value


def bounds_load(data: Any) -> Bounds:
    """The perturbation bounds of a spec's `bounds`; ValidationError naming `bounds.<field>`."""
    if data is None:
        return Bounds()
    if not isinstance(data, dict):
        raise _invalid("bounds", "a mapping: kinds, max_edits, shift, texts, calls")
    unknown = sorted(set(data) - {"kinds", "max_edits", "shift", "texts", "calls"})
    if unknown:
        raise _invalid(f"bounds.{unknown[0]}", "unknown field (use calls, kinds, max_edits, shift, texts)")
    kinds = data.get("kinds", list(KINDS))
    if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
        raise _invalid("bounds.kinds", f"a non-empty list of {', '.join(KINDS)}")
    shift = data.get("shift", 0.5)
    if isinstance(shift, bool) or not isinstance(shift, int | float) or not 0 < shift <= 10:
        raise _invalid("bounds.shift", "a number above 0 and at most 10")
    texts = data.get("texts", list(Bounds().texts))
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and 0 < len(t) <= 2000 for t in texts):
        raise _invalid("bounds.texts", "a non-empty list of texts (up to 2,000 characters each)")
    return Bounds(kinds=tuple(kinds), max_edits=_int(data.get("max_edits", 3), "bounds.max_edits", low=1, high=20),
                  shift=float(shift), texts=tuple(texts), calls=_int(data.get("calls", 20), "bounds.calls", low=1,
                                                                    high=10_000))


def search_create(*, project: Project, source: str | dict, actor: Actor) -> Search:
    """Checks the spec (YAML text or a parsed mapping; every refusal names its field), resolves the
    policy and contracts, and queues the search for a worker."""
    actor = actor_name(actor)
    if isinstance(source, str):
        try:
            source = plain(load_document(source).data)
        except DocumentError as exc:
            raise _invalid("source", str(exc)) from None
    if not isinstance(source, dict):
        raise _invalid("source", "a mapping with name, run, budget, ...")
    unknown = sorted(set(source) - KEYS)
    if unknown:
        raise _invalid(unknown[0], f"unknown field (use {', '.join(sorted(KEYS))})")
    name = source.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _invalid("name", "required: up to 100 letters, digits, '.', '-' or '_'")
    budget = _int(source.get("budget", 50), "budget", low=1, high=MAX_BUDGET)
    seed = _int(source.get("seed", 0), "seed", low=0, high=2**31 - 1)
    bounds_load(source.get("bounds"))
    if not isinstance(source.get("run"), dict):
        raise _invalid("run", "required: the run spec the search perturbs")
    if "seed" in source["run"]:
        raise _invalid("run.seed", "the search's `seed` sets it")
    try:
        spec = spec_normalize({**source["run"], "seed": seed})
        built = registry.spec_build(spec)
    except RunSpecError as exc:
        raise _invalid(f"run.{exc.field}", exc.message) from None
    contracts = _contracts(project, source.get("contracts"))
    with transaction.atomic():
        try:
            governance = regimes.regime_resolve(project=project, spec=spec, defaults=built.defaults,
                                                family=built.family, actor=actor)
        except ValidationError as exc:
            raise ValidationError({f"run.{k}": v for k, v in exc.message_dict.items()}) from None
        search = Search.objects.create(
            project=project, name=name, title=str(source.get("title") or name)[:200], spec=source, run_spec=spec,
            policy_digest=governance.policy.digest if spec["regime"] == regimes.INSTITUTIONAL else "",
            contracts=[v.digest for v in contracts], budget=budget, created_by=actor)
        _enqueue(search)
    return search


def _contracts(project: Project, names: Any) -> list[ContractVersion]:
    active = versions_active(project=project)
    if names is None:
        if not active:
            raise _invalid("contracts", "the project has no enabled contract: a search looks for a violation of one")
        return active
    if not isinstance(names, list) or not names:
        raise _invalid("contracts", "a non-empty list of the project's enabled contracts")
    by_name = {v.contract.name: v for v in active}
    for position, contract in enumerate(names):
        if contract not in by_name:
            raise _invalid(f"contracts[{position}]", f"no enabled contract '{contract}' in this project")
    return [by_name[n] for n in names]


def _enqueue(search: Search) -> None:
    """Promises the worker's task in the caller's transaction (the outbox delivers it after commit,
    and again after a broker outage)."""
    from apps.experiments.tasks import search_run_task

    task_enqueue(task=search_run_task, args=[search.pk])


def search_cancel(*, search: Search, actor: Actor) -> Search:
    """A queued search is cancelled at once; a running one stops after its current episode."""
    actor = actor_name(actor)
    with transaction.atomic():
        search = Search.objects.select_for_update().get(pk=search.pk)
        if not search.is_active:
            raise _invalid("status", f"the search is already {search.status}")
        search.cancel_requested = True
        if search.status == RunStatus.QUEUED:
            search.status, search.finished_at, search.error = "cancelled", timezone.now(), f"cancelled by {actor}"
        search.save(update_fields=["cancel_requested", "status", "finished_at", "error"])
    return search


def _claim(search_id: int) -> Search | None:
    with transaction.atomic():
        search = Search.objects.select_for_update().filter(pk=search_id).first()
        if search is None or not search.is_active:
            return None
        if search.cancel_requested:
            search.status, search.finished_at = "cancelled", timezone.now()
            search.save(update_fields=["status", "finished_at"])
            return None
        search.status, search.episodes, search.attempts = "running", 0, search.attempts + 1
        search.started_at = search.started_at or timezone.now()
        search.save(update_fields=["status", "episodes", "attempts", "started_at"])
    return search


def search_run(*, search_id: int) -> str:
    """Plays the search (a redelivered task starts it over: the same seed finds the same thing).
    Returns the status afterwards, or "busy" when another worker is playing it (a second delivery
    of the task, e.g. the outbox publishing it again while a long search runs, leaves it alone).

    A session advisory lock keyed by the search admits one executor; PostgreSQL drops it with a
    dead worker's connection, so the redelivered task can take over."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, search_id])
        if not cursor.fetchone()[0]:
            return "busy"
    try:
        return _run(search_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, search_id])


def _run(search_id: int) -> str:
    search = _claim(search_id)
    if search is None:
        return Search.objects.filter(pk=search_id).values_list("status", flat=True).first() or "missing"
    try:
        outcome = _play(search)
    except OperationalError:
        raise
    except Exception as exc:
        logger.exception("search %s failed", search.pk)
        Search.objects.filter(pk=search.pk, attempts=search.attempts).update(
            status="failed", error=f"{type(exc).__name__}: {exc}"[:5000], finished_at=timezone.now())
    else:
        _record(search, outcome)
    return Search.objects.filter(pk=search_id).values_list("status", flat=True).first() or "missing"


def _play(search: Search) -> dict:
    spec = search.run_spec
    contracts = [contract_compiled(v) for v in
                 sorted(ContractVersion.objects.filter(project=search.project, digest__in=search.contracts),
                        key=lambda v: search.contracts.index(v.digest))]
    policy = None
    if search.policy_digest:
        version = PolicyVersion.objects.filter(project=search.project, digest=search.policy_digest).first()
        if version is None:
            raise ValueError("the search's policy version is gone")
        policy = policy_compiled(digest=version.digest, source=version.source)

    def build():
        built = registry.spec_build(spec)
        gate = PolicyGate(policy=policy, environment=spec["environment"]["kind"]) if policy else AllowAll()
        return built.env, built.agents, gate

    env = registry.spec_build(spec).env
    rounds = spec.get("rounds") or getattr(registry.unwrap(env), "rounds", None) or DEFAULT_ROUNDS

    def progress(used: int, best) -> bool:
        if used % PROGRESS_EVERY == 0:
            Search.objects.filter(pk=search.pk, attempts=search.attempts).update(episodes=used)
        return not Search.objects.filter(pk=search.pk, cancel_requested=True).exists()

    return counterexample_search(build=build, contracts=contracts, seed=spec["seed"], rounds=rounds,
                                 budget=search.budget, bounds=bounds_load(search.spec.get("bounds")),
                                 on_progress=progress)


def _record(search: Search, outcome: dict) -> None:
    """Stores what the search found; its counterexample's episode becomes a trace (for the replay)."""
    found = outcome["counterexample"]
    with transaction.atomic():
        current = Search.objects.select_for_update().get(pk=search.pk)
        if current.attempts != search.attempts or not current.is_active:
            return  # a newer attempt owns the row, or it ended meanwhile
        episode = None
        if found is not None:
            episode = _store_episode(search, found)
            found = {k: v for k, v in found.items() if k != "steps"}
        status = "cancelled" if outcome.get("stopped") else "completed"
        Search.objects.filter(pk=search.pk).update(
            status=status, episodes=outcome["episodes"], found=outcome["found"],
            baseline_failed=outcome.get("baseline_failed", False), counterexample=found, episode=episode,
            finished_at=timezone.now())


def _store_episode(search: Search, found: dict):
    suffix = f"@s{search.pk}"  # as a run's agents are <name>@<run>: its governance never reaches others
    names = [a["name"] + suffix for a in search.run_spec["agents"]]
    episode, _ = traces.episode_upsert(
        project=search.project, external_id=f"search-{search.pk}-a{search.attempts}",
        title=f"Counterexample of search {search.pk} ({search.name})", agents=names,
        environment=search.run_spec["environment"]["kind"], seed=found["seed"], config=search.run_spec,
        tags=["counterexample", f"search:{search.pk}"])
    steps = []
    for step in found["steps"]:
        step = {k: v for k, v in step.items() if v not in (None, "", {})}
        if step.get("agent"):
            step["agent"] += suffix
        steps.append(step)
    for start in range(0, len(steps), 500):
        traces.steps_append_batch(episode=episode, steps=steps[start:start + 500])
    traces.episode_end(episode=episode, status=EpisodeStatus.COMPLETED,
                       outcome={"success": False, "counterexample": {k: v for k, v in found.items() if k != "steps"}})
    return episode
