"""Writes for runs: create (spec checked, versions resolved), execute in a worker, resume, cancel.

Execution is one transaction per round: the round's steps (decisions included, through the same
services as /decide and ingestion), its governance round (institutional regime) and the run's
checkpoint commit together. A worker killed mid-round therefore leaves the last completed round
and a checkpoint to resume from, never half a round. Two executors never play one run: a session
advisory lock keyed by the run admits one (PostgreSQL drops it with a dead worker's connection), and
every round's commit is fenced by the run's `attempts`, so an executor that lost its lock cannot
commit after a newer one started.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from apps.episodes import regimes, registry
from apps.episodes.agents.llm import LLMError
from apps.episodes.environments.base import Checkpoint
from apps.episodes.gateway import TraceRecorder, WardenGate
from apps.episodes.governed import RoundGovernance, RunCancelled, Superseded
from apps.episodes.models import ACTIVE_STATUSES, Run, RunStatus
from apps.episodes.runner.loop import run_episode
from apps.episodes.signals import run_finished
from apps.episodes.spec import MAX_ROUNDS, SpecError, spec_digest, spec_normalize
from apps.policies import services as policy_services
from apps.policies.models import PolicyBinding, PolicyVersion
from apps.tenancy.actors import Actor, actor_name
from apps.tenancy.models import Project
from apps.traces import services as traces
from apps.traces.models import Episode, EpisodeStatus

logger = logging.getLogger(__name__)

# pg_try_advisory_lock(classid, objid): the first key says "a run", the second which one.
LOCK_CLASS = 0x52554E  # "RUN"
# Run bindings outrank the project's own, so a run plays under exactly the policy it names.
BINDING_PRIORITY = 1_000_000
TRAINING_ROUNDS = 20_000  # periods a learner trains for when the spec's `training` does not say
MAX_ATTEMPTS = 5


class RunConflict(Exception):
    """The run id is taken by a run with another spec."""

    def __init__(self, run: Run):
        super().__init__(f"run '{run.key}' exists with another spec")
        self.run = run


def _invalid(exc: SpecError) -> ValidationError:
    return ValidationError({exc.field: [exc.message]})


def run_create(*, project: Project, data: dict[str, Any], actor: Actor, key: str | None = None) -> tuple[Run, bool]:
    """Queues a run of the spec `data` (parsed YAML/JSON); (run, created).

    The run id is `data["id"]`, else `key`, else made up. The same id with the same spec returns
    the existing run (created False); with another spec raises RunConflict. Bad specs raise
    ValidationError naming the field; nothing is written.
    """
    actor = actor_name(actor)
    try:
        spec = spec_normalize(data)
        built = registry.spec_build(spec)
    except SpecError as exc:
        raise _invalid(exc) from None
    key = spec.pop("id", None) or key or f"r-{secrets.token_hex(6)}"
    digest = spec_digest(spec)
    with transaction.atomic():
        existing = Run.objects.filter(project=project, key=key).first()
        if existing is not None:
            if existing.spec_digest != digest:
                raise RunConflict(existing)
            return existing, False
        governance = regimes.regime_resolve(project=project, spec=spec, defaults=built.defaults, family=built.family,
                                            actor=actor)
        rounds = spec.get("rounds") or _declared_rounds(built.env) or MAX_ROUNDS
        evidence = {}
        if governance.constitution:
            evidence["constitution"] = {
                "text": governance.constitution,
                "ignored_by": built.ignores_instructions,
                "note": "scripted agents do not read instructions: the constitution cannot change what they do",
            }
        run = Run.objects.create(
            project=project, key=key, title=spec.get("title", ""), spec=spec, spec_digest=digest,
            environment=spec["environment"]["kind"], regime=spec["regime"], seed=spec["seed"],
            versions={**governance.versions, "graph_id": governance.graph.id if governance.graph else None},
            rounds_total=rounds, evidence=evidence, created_by=actor,
        )
        transaction.on_commit(lambda: run_enqueue(run=run))
    return run, True


def _declared_rounds(env) -> int | None:
    """The rounds an environment plays when the spec does not say (its own `rounds` parameter)."""
    env = registry.unwrap(env)
    found = getattr(env, "rounds", None) or getattr(getattr(env, "config", None), "rounds", None)
    return found if isinstance(found, int) else None


def run_enqueue(*, run: Run) -> None:
    from apps.episodes.tasks import run_execute_task

    try:
        run_execute_task.delay(run.id)
    except Exception:  # the broker being down must not fail the request; the sweep re-enqueues
        logger.exception("could not enqueue run %s", run.key)


@transaction.atomic
def run_cancel(*, run: Run, actor: Actor) -> Run:
    """A queued run is cancelled at once; a running one stops after its current round."""
    actor = actor_name(actor)
    run = Run.objects.select_for_update().get(pk=run.pk)
    if not run.is_active:
        raise ValidationError({"status": [f"the run is already {run.status}"]})
    run.cancel_requested = True
    fields = ["cancel_requested"]
    if run.status == RunStatus.QUEUED:
        run.status, run.finished_at, run.error = RunStatus.CANCELLED, timezone.now(), f"cancelled by {actor}"
        fields += ["status", "finished_at", "error"]
        run_finished.send(sender=Run, run=run, status=run.status)
    run.save(update_fields=fields)
    return run


def run_resume(*, run: Run) -> bool:
    """Enqueues an active run nobody is executing (a lost task, a killed worker); False if held."""
    if run.status not in ACTIVE_STATUSES or _held(run.id):
        return False
    run_enqueue(run=run)
    return True


def runs_sweep(*, stale_seconds: float = 120) -> int:
    """Beat entry: resumes active runs whose executor went away; fails those lost too often."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_seconds)
    resumed = 0
    stale = Run.objects.filter(status__in=ACTIVE_STATUSES).exclude(heartbeat_at__gte=cutoff).filter(
        created_at__lt=cutoff)
    for run in stale.iterator():
        if run.attempts >= MAX_ATTEMPTS and not _held(run.id):
            _finish_failed(run, f"the worker was lost {run.attempts} times; giving up")
        elif run_resume(run=run):
            resumed += 1
    return resumed


def _held(run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, run_id])
        free = cursor.fetchone()[0]
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, run_id])
    return not free


def run_execute(*, run_id: int, worker: str = "") -> str:
    """Plays the run (or resumes it from its checkpoint). Idempotent: a finished run, or one another
    worker is executing, is left alone. Returns the run's status afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, run_id])
        if not cursor.fetchone()[0]:
            return "busy"
    try:
        return _execute(run_id, worker)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, run_id])


def _start(run_id: int, worker: str) -> Run | None:
    """Claims the run for this executor (attempts is the fencing token) and makes its episode."""
    with transaction.atomic():
        # of=("self",): lock the run's row only. Locking the joined project row too would block every
        # transaction of the project at commit, where each foreign-key check reads that row with FOR
        # KEY SHARE, while this one waits for the project's log lock held by one of them: a deadlock.
        run = Run.objects.select_for_update(of=("self",)).select_related("project").filter(pk=run_id).first()
        if run is None or not run.is_active:
            return None
        if run.cancel_requested:
            _finish(run, RunStatus.CANCELLED, error=run.error or "cancelled")
            return None
        now = timezone.now()
        run.status, run.worker, run.heartbeat_at = RunStatus.RUNNING, worker[:200], now
        run.started_at = run.started_at or now
        run.attempts += 1
        if run.episode_id is None:
            names = [run.agent_name(a["name"]) for a in run.spec["agents"]]
            versions = {k: v for k, v in run.versions.items() if k in ("policy", "graph", "contracts")}
            run.episode, _ = traces.episode_upsert(
                project=run.project, external_id=run.episode_external_id, title=run.title or f"Run {run.key}",
                agents=names, environment=run.environment, seed=run.seed, config=run.spec, versions=versions,
                tags=["run", run.regime],
            )
        if run.snapshot_before is None:
            # The loop resets the environment itself; a seeded reset of a twin gives the same state.
            twin = registry.spec_build(run.spec).env
            twin.reset(seed=run.seed)
            run.snapshot_before = twin.snapshot()
        run.save()
        policy = PolicyVersion.objects.select_related("policy").get(project=run.project,
                                                                     digest=run.versions["policy"],
                                                                     policy__name=run.versions["policy_name"])
        policy_services.binding_set(project=run.project, policy=policy.policy, agent=run.agent_name("*"),
                                    priority=BINDING_PRIORITY, actor=f"run:{run.key}")
    return run


def _execute(run_id: int, worker: str) -> str:
    try:
        run = _start(run_id, worker)
    except OperationalError:
        raise  # the database, not the run: the task tries again
    except Exception as exc:
        # _start builds the environment (its snapshot before): one that cannot be built on this worker
        # (an optional package missing, a spec an upgrade no longer accepts) never will be, so the run
        # fails with the reason instead of staying queued for the sweep to resume forever.
        logger.exception("run %s could not start", run_id)
        failed = Run.objects.filter(pk=run_id).first()
        if failed is not None and failed.is_active:
            _finish_failed(failed, _build_error(exc))
        return Run.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    if run is None:
        return Run.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    try:
        built = registry.spec_build(run.spec)
        episode = run.episode
        recorder = TraceRecorder(project=run.project, episode=episode, agent_name=run.agent_name,
                                 agents=list(built.agents), actor=f"run:{run.key}")
        gate = WardenGate(project=run.project, episode=episode, recorder=recorder, environment=run.environment,
                          actor=f"run:{run.key}")
        rounds = RoundGovernance.for_run(run=run, built=built, recorder=recorder)
        resume = Checkpoint.from_dict(run.checkpoint) if run.checkpoint else None
    except OperationalError:
        raise
    except Exception as exc:
        logger.exception("run %s could not start", run.key)
        _finish_failed(run, _build_error(exc))
        return Run.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"
    try:
        if built.learners and resume is None:
            _train(run, built)  # a resumed run's learners come back trained from the checkpoint
        with rounds.transactions():
            result = run_episode(env=built.env, agents=built.agents, gate=gate, recorder=recorder, seed=run.seed,
                                 max_rounds=run.rounds_total, on_round=rounds.on_round, resume=resume,
                                 preamble=run.evidence.get("constitution", {}).get("text", ""))
            recorder.flush()
            _complete(run, result, rounds)
    except RunCancelled:
        _finish(run, RunStatus.CANCELLED, error=f"cancelled after round {run.rounds_done}")
    except Superseded:
        return "superseded"
    except LLMError as exc:  # the endpoint's own words say what went wrong
        _finish_failed(run, str(exc)[:5000])
    except Exception as exc:
        logger.exception("run %s failed", run.key)
        _finish_failed(run, f"{type(exc).__name__}: {exc}"[:5000])
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first() or "missing"


def _build_error(exc: Exception) -> str:
    if isinstance(exc, SpecError):
        return f"the environment could not be built: {exc.field}: {exc.message}"[:5000]
    return f"the run could not start: {type(exc).__name__}: {exc}"[:5000]


def _train(run: Run, built: registry.Built) -> None:
    """Trains the run's learners in process under its regime (pure engines, no database writes but
    the summary), before the traced evaluation episode."""
    from apps.episodes.runner.training import train_market
    from apps.governance.models import GraphVersion
    from apps.governance.selectors import graph_compiled
    from apps.policies.engine_cache import compiled as policy_compiled

    policy = graph = None
    if run.regime == regimes.INSTITUTIONAL:
        version = PolicyVersion.objects.get(project=run.project, digest=run.versions["policy"],
                                            policy__name=run.versions["policy_name"])
        policy = policy_compiled(digest=version.digest, source=version.source)
        graph = graph_compiled(GraphVersion.objects.get(pk=run.versions["graph_id"], project=run.project))
    options = {"rounds": TRAINING_ROUNDS, **(run.spec.get("training") or {})}
    twin = registry.spec_build(run.spec).env  # a market of its own: the episode starts fresh
    summary = train_market(env=registry.unwrap(twin), agents=built.agents, seed=run.seed, policy=policy,
                           graph=graph, **options)
    run.training = summary.as_dict()
    Run.objects.filter(pk=run.pk).update(training=run.training)


def _complete(run: Run, result, rounds: RoundGovernance) -> None:
    """Inside the last round's transaction: ends the episode and the run together."""
    terminated = result.status == "terminated"
    metrics = dict(result.metrics or {})
    if rounds.fines:
        metrics["fines"] = dict(rounds.fines)
        if isinstance(metrics.get("profits"), dict):
            metrics["profits_after_fines"] = {a: p - rounds.fines.get(a, 0) for a, p in metrics["profits"].items()}
    result.metrics = metrics
    outcome = {"success": not terminated, "metrics": result.metrics, "rounds": result.rounds}
    if terminated:
        outcome["termination_reason"] = result.reason
    traces.episode_end(episode=run.episode, status=EpisodeStatus.TERMINATED if terminated else EpisodeStatus.COMPLETED,
                       outcome=outcome)
    updated = Run.objects.filter(pk=run.pk, attempts=run.attempts).update(
        status=RunStatus.COMPLETED, metrics=result.metrics, snapshot_after=result.snapshot_after,
        rounds_done=result.rounds, rounds_total=result.rounds, recording=rounds.recording(), evidence={**run.evidence, **rounds.evidence()},
        finished_at=timezone.now(), heartbeat_at=timezone.now(),
    )
    if not updated:
        raise Superseded
    run_finished.send(sender=Run, run=run, status=RunStatus.COMPLETED)
    _unbind(run)


def _finish_failed(run: Run, error: str) -> None:
    _finish(run, RunStatus.FAILED, error=error)


def _finish(run: Run, status: str, *, error: str) -> None:
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now())
        run_finished.send(sender=Run, run=run, status=status)
        episode = Episode.objects.filter(pk=run.episode_id).first() if run.episode_id else None
        if episode is not None and episode.status == EpisodeStatus.RUNNING:
            traces.episode_end(episode=episode, status=EpisodeStatus.FAILED,
                               outcome={"success": False, "termination_reason": error})
        _unbind(run)


def _unbind(run: Run) -> None:
    binding = PolicyBinding.objects.filter(project_id=run.project_id, agent=run.agent_name("*"), environment="*").first()
    if binding is not None:
        policy_services.binding_remove(binding=binding, actor=f"run:{run.key}")
