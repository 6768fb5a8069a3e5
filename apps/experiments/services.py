"""Writes for experiments: create from a spec, advance (count finished trials, dispatch more), cancel,
retry, rerun, and the beat sweep.

Fan-out survives restarts because nothing lives in a worker's memory: every trial is a row, its run
has a deterministic key (`x<experiment>-<trial>`), and `experiment_advance` - called after creation,
whenever one of the experiment's runs finishes (episodes' `run_finished` signal, through the task
outbox) and by the beat sweep - does all the work under the experiment's row lock:

1. count: trials whose run finished get their metrics snapshot and are added into their condition's
   aggregation state, in batches of COLLECT_BATCH, in the same transaction that marks them counted;
2. dispatch: pending trials get runs (episodes.services.run_create) until `max_in_flight` are queued
   or running;
3. settle: when nothing is pending or in flight the experiment is completed (failed if no trial
   completed).

A worker killed anywhere leaves either the whole step committed or none of it; the next advance
(outbox redelivery or the sweep) redoes what is missing, and the row lock makes two advances take turns.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from apps.core.outbox import task_enqueue
from apps.episodes import registry
from apps.episodes import services as runs
from apps.episodes.models import Run, RunStatus
from apps.episodes.regimes import example_policy_path
from apps.episodes.spec import SpecError as RunSpecError
from apps.episodes.spec import spec_normalize
from apps.experiments import aggregate
from apps.experiments import metrics as trace_metrics
from apps.experiments.models import ACTIVE, Condition, Experiment, ExperimentStatus, Trial, TrialStatus
from apps.experiments.spec import Plan, SpecError, deep_merge, spec_load, task_key, trial_seed
from apps.experiments.version import code_version
from apps.policies.models import Decision
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project
from apps.traces.models import EpisodeStatus

logger = logging.getLogger(__name__)

COLLECT_BATCH = 1000
CREATE_BATCH = 2000
VERDICTS = ("allow", "rewrite", "ask", "block", "terminate")
FINISHED_RUNS = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
_TRIAL_STATUS: dict[str, str] = {RunStatus.COMPLETED: TrialStatus.COMPLETED, RunStatus.FAILED: TrialStatus.FAILED,
                 RunStatus.CANCELLED: TrialStatus.CANCELLED}


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def plan_load(source: str | dict) -> Plan:
    """The validated plan of a spec; ValidationError naming the field otherwise. Every condition's run
    spec (with each task) is checked the way a run's is, so a bad one fails here, not in a worker."""
    try:
        plan = spec_load(source)
    except SpecError as exc:
        raise _invalid(exc.field, exc.message) from None
    if "id" in plan.spec["run"]:
        raise _invalid("run.id", "run ids are made by the experiment (one per trial)")
    for condition in plan.conditions:
        for index, task in enumerate(plan.tasks):
            where = f" (condition '{condition.label}'" + (f", tasks[{index}])" if task else ")")
            try:
                spec = spec_normalize(_trial_spec(condition.run, task, seed=plan.seeds[0]))
                registry.spec_build(spec)
            except RunSpecError as exc:
                raise _invalid(f"run.{exc.field}", exc.message + where) from None
            if (spec.get("versions") or {}).get("policy_file"):
                try:
                    example_policy_path(spec["versions"]["policy_file"])
                except ValidationError as exc:
                    raise _invalid("run.versions.policy_file", exc.messages[0] + where) from None
    return plan


def _trial_spec(run: dict, task: dict, *, seed: int) -> dict:
    return {**deep_merge(run, task), "seed": seed}


def _digest(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def experiment_create(*, project: Project, source: str | dict, actor: Actor,
                      rerun_of: Experiment | None = None) -> Experiment:
    """Plans the experiment and queues it: one Trial per condition × task × seed × repeat (written in
    batches), and the first advance promised in the same transaction."""
    actor = actor_name(actor)
    plan = plan_load(source)
    with transaction.atomic():
        experiment = Experiment.objects.create(
            project=project, name=plan.name, title=plan.title, spec=plan.spec, spec_digest=_digest(plan.spec),
            code_version=code_version(), rerun_of=rerun_of, max_in_flight=plan.max_in_flight, baseline=plan.baseline,
            success=plan.success, ks=plan.k, total=plan.trials, created_by=actor,
        )
        conditions = Condition.objects.bulk_create([
            Condition(experiment=experiment, index=c.index, label=c.label[:500], overrides=c.overrides, run_spec=c.run)
            for c in plan.conditions
        ])
        keys = [task_key(t)[:500] for t in plan.tasks]
        batch: list[Trial] = []
        for condition in conditions:
            for task_index in range(len(plan.tasks)):
                for seed in plan.seeds:
                    for repeat in range(plan.repeats):
                        batch.append(Trial(experiment=experiment, condition=condition, task=task_index,
                                           task_key=keys[task_index], seed=seed, repeat=repeat))
                        if len(batch) >= CREATE_BATCH:
                            Trial.objects.bulk_create(batch)
                            batch = []
        Trial.objects.bulk_create(batch)
        _promise_advance(experiment)
    return experiment


def experiment_rerun(*, experiment: Experiment, actor: Actor) -> Experiment:
    """A new experiment from the stored spec: the same conditions, tasks and seeds."""
    actor = actor_name(actor)
    return experiment_create(project=experiment.project, source=experiment.spec, actor=actor, rerun_of=experiment)


def _promise_advance(experiment: Experiment) -> None:
    from apps.experiments.tasks import experiment_advance_task

    task_enqueue(task=experiment_advance_task, args=[experiment.pk])


def experiment_advance(*, experiment_id: int) -> dict:
    """Counts finished trials, dispatches pending ones, settles the status. Idempotent."""
    with transaction.atomic():
        # of=("self",): the experiment's row only; a lock on the joined project row would block every run's
        # commit (foreign-key checks read it) while this waits for the project's log lock: a deadlock.
        experiment = (Experiment.objects.select_for_update(of=("self",)).select_related("project")
                      .filter(pk=experiment_id).first())
        if experiment is None:
            return {"missing": True}
        counted = 0
        while True:
            n = _collect(experiment)
            counted += n
            if n < COLLECT_BATCH:
                break
        dispatched = 0
        if experiment.status in ACTIVE and not experiment.cancel_requested:
            dispatched = _dispatch(experiment)
        _settle(experiment)
        experiment.save()
    return {"counted": counted, "dispatched": dispatched, "status": experiment.status}


def _collect(experiment: Experiment) -> int:
    """Counts up to COLLECT_BATCH trials whose run finished (call holding the experiment's lock)."""
    rows = list(
        Trial.objects.filter(experiment=experiment, status=TrialStatus.DISPATCHED, run__status__in=FINISHED_RUNS)
        .values("id", "condition_id", "task_key", "run__status", "run__metrics", "run__error", "run__episode_id",
                "run__episode__status", "run__spec__faults", "run__versions__contracts")
        .order_by("id")[:COLLECT_BATCH]
    )
    if not rows:
        return 0
    episodes = [r["run__episode_id"] for r in rows if r["run__status"] == RunStatus.COMPLETED and r["run__episode_id"]]
    decisions: dict[int, dict[str, int]] = defaultdict(dict)
    for episode_id, verdict, n in (Decision.objects.filter(episode_id__in=episodes).values_list("episode_id", "verdict")
                                   .annotate(n=Count("id")).values_list("episode_id", "verdict", "n")):
        decisions[episode_id][verdict] = n
    finished = [{"episode_id": r["run__episode_id"], "faults": r["run__spec__faults"],
                 "contracts": r["run__versions__contracts"]} for r in rows if r["run__episode_id"] in episodes]
    compliance = trace_metrics.contract_compliance(runs=finished)
    containment = trace_metrics.fault_containment(runs=finished)
    now = timezone.now()
    states: dict[int, dict] = defaultdict(dict)
    tallies: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    trials = []
    for row in rows:
        status = _TRIAL_STATUS[row["run__status"]]
        metrics: dict[str, Any] = {}
        if status == TrialStatus.COMPLETED:
            metrics = trial_metrics(run_metrics=row["run__metrics"] or {}, episode_status=row["run__episode__status"],
                                    decisions=decisions.get(row["run__episode_id"], {}))
            if row["run__episode_id"] in compliance:
                metrics["contract_compliance"] = compliance[row["run__episode_id"]]
            if row["run__episode_id"] in containment:
                metrics["containment_rate"] = containment[row["run__episode_id"]]
            aggregate.accumulate(state=states[row["condition_id"]], metrics=metrics, task_key=row["task_key"],
                                 success=experiment.success)
            tallies[row["condition_id"]][0] += 1
            experiment.done += 1
        elif status == TrialStatus.FAILED:
            tallies[row["condition_id"]][1] += 1
            experiment.failed += 1
        else:
            experiment.cancelled += 1
        trials.append(Trial(pk=row["id"], status=status, metrics=metrics, error=(row["run__error"] or "")[:2000],
                            counted=True, finished_at=now))
    Trial.objects.bulk_update(trials, ["status", "metrics", "error", "counted", "finished_at"])
    conditions = list(Condition.objects.filter(pk__in=tallies))
    for condition in conditions:
        aggregate.merge_states(condition.state, states.get(condition.pk, {}))
        condition.done += tallies[condition.pk][0]
        condition.failed += tallies[condition.pk][1]
    Condition.objects.bulk_update(conditions, ["state", "done", "failed"])
    return len(rows)


def trial_metrics(*, run_metrics: dict, episode_status: str | None, decisions: dict[str, int]) -> dict:
    """The numbers and booleans a finished run contributes: its environment's metrics flattened
    (aggregate.flatten_metrics), `success` (the run ended without being terminated, unless the
    environment says), and `decisions.<verdict>` counts."""
    metrics: dict[str, Any] = aggregate.flatten_metrics(run_metrics)
    if "success" not in metrics:
        metrics["success"] = episode_status == EpisodeStatus.COMPLETED
    for verdict in VERDICTS:
        metrics[f"decisions.{verdict}"] = float(decisions.get(verdict, 0))
    return metrics


def _dispatch(experiment: Experiment) -> int:
    """Makes runs for pending trials up to `max_in_flight` (call holding the experiment's lock)."""
    in_flight = Trial.objects.filter(experiment=experiment, status=TrialStatus.DISPATCHED).count()
    slots = experiment.max_in_flight - in_flight
    if slots <= 0:
        return 0
    pending = list(Trial.objects.filter(experiment=experiment, status=TrialStatus.PENDING)
                   .select_related("condition").order_by("id")[:slots])
    if not pending:
        return 0
    tasks = spec_load(experiment.spec).tasks
    actor = f"experiment:{experiment.pk}"
    failed_now = 0
    for trial in pending:
        data = _trial_spec(trial.condition.run_spec, tasks[trial.task], seed=trial_seed(seed=trial.seed,
                                                                                            repeat=trial.repeat))
        data["title"] = f"{experiment.name} · {trial.condition.label} · seed {trial.seed}"[:200]
        try:
            trial.run, _ = runs.run_create(project=experiment.project, data=data, actor=actor, key=trial.run_key)
            trial.status = TrialStatus.DISPATCHED
        except (ValidationError, runs.RunConflict) as exc:
            # The spec was checked at creation; what fails now (a policy version deleted since, a run
            # key taken by hand) fails this trial, not the experiment.
            trial.status, trial.counted, trial.finished_at = TrialStatus.FAILED, True, timezone.now()
            trial.error = (exc.messages[0] if isinstance(exc, ValidationError) else str(exc))[:2000]
            Condition.objects.filter(pk=trial.condition_id).update(failed=F("failed") + 1)
            failed_now += 1
    Trial.objects.bulk_update(pending, ["run", "status", "error", "counted", "finished_at"])
    experiment.failed += failed_now
    if experiment.status == ExperimentStatus.QUEUED:
        experiment.status, experiment.started_at = ExperimentStatus.RUNNING, timezone.now()
    return len(pending) - failed_now


def _settle(experiment: Experiment) -> None:
    """Ends the experiment once nothing is pending or in flight (call holding its lock)."""
    if experiment.finished_at is not None:
        return
    open_trials = Trial.objects.filter(experiment=experiment,
                                       status__in=(TrialStatus.PENDING, TrialStatus.DISPATCHED))
    if open_trials.exists():
        return
    experiment.finished_at = timezone.now()
    if experiment.cancel_requested:
        experiment.status = ExperimentStatus.CANCELLED
    elif experiment.done == 0 and experiment.failed:
        experiment.status = ExperimentStatus.FAILED
    else:
        experiment.status = ExperimentStatus.COMPLETED


def experiment_cancel(*, experiment: Experiment, actor: Actor) -> Experiment:
    """Stops dispatching, cancels pending trials and queued runs; runs already playing finish and
    are counted. The experiment reads `cancelled` at once."""
    actor = actor_name(actor)
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if not experiment.is_active:
            raise _invalid("status", f"the experiment is already {experiment.status}")
        now = timezone.now()
        experiment.cancel_requested = True
        experiment.status = ExperimentStatus.CANCELLED
        experiment.cancelled += Trial.objects.filter(experiment=experiment, status=TrialStatus.PENDING).update(
            status=TrialStatus.CANCELLED, counted=True, finished_at=now, error=f"cancelled by {actor}")
        queued = Run.objects.filter(pk__in=Trial.objects.filter(experiment=experiment, status=TrialStatus.DISPATCHED)
                                    .values("run_id"), status=RunStatus.QUEUED)
        for run in queued:
            runs.run_cancel(run=run, actor=actor)  # run_finished -> the next advance counts it
        _settle(experiment)
        experiment.save()
    return experiment


def experiment_retry(*, experiment: Experiment, actor: Actor) -> int:
    """Queues the failed and cancelled trials again (each under a new run key); returns how many."""
    actor = actor_name(actor)
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        again = Trial.objects.filter(experiment=experiment, status__in=(TrialStatus.FAILED, TrialStatus.CANCELLED))
        by_condition = dict(again.filter(status=TrialStatus.FAILED).values_list("condition_id")
                            .annotate(n=Count("id")).values_list("condition_id", "n"))
        failed, cancelled = sum(by_condition.values()), again.filter(status=TrialStatus.CANCELLED).count()
        if not failed + cancelled:
            raise _invalid("status", "no failed or cancelled trials to retry")
        for condition in Condition.objects.filter(pk__in=by_condition):
            condition.failed -= by_condition[condition.pk]
            condition.save(update_fields=["failed"])
        # A new key per attempt: the failed run stays as it was, for the record.
        again.update(attempt=F("attempt") + 1, status=TrialStatus.PENDING, run=None, counted=False, error="",
                     metrics={}, finished_at=None)
        experiment.failed -= failed
        experiment.cancelled -= cancelled
        experiment.cancel_requested = False
        experiment.status = ExperimentStatus.RUNNING if experiment.started_at else ExperimentStatus.QUEUED
        experiment.finished_at = None
        experiment.save()
        logger.info("experiment %s: %s trials retried by %s", experiment.pk, failed + cancelled, actor)
        _promise_advance(experiment)
    return failed + cancelled


def experiments_sweep() -> int:
    """Beat entry: advances every experiment that still has work (a lost advance, a finish whose
    signal never came); returns how many were advanced."""
    ids = list(Experiment.objects.filter(finished_at__isnull=True).order_by("id").values_list("id", flat=True))
    for experiment_id in ids:
        experiment_advance(experiment_id=experiment_id)
    return len(ids)


def experiment_play_here(*, experiment_id: int, worker: str = "here") -> None:
    """Plays the experiment in this process (the demo seed, `experiment run --here`): advance, then
    execute the queued runs, until nothing is left. A worker that takes one of these runs from the
    broker meanwhile is harmless: run_execute admits one executor per run."""
    while True:
        experiment_advance(experiment_id=experiment_id)
        queued = list(Trial.objects.filter(experiment_id=experiment_id, status=TrialStatus.DISPATCHED,
                                           run__status=RunStatus.QUEUED).values_list("run_id", flat=True))
        if not queued:
            return
        for run_id in queued:
            runs.run_execute(run_id=run_id, worker=worker)
