"""The decision service behind POST /decide: read, decide, store (approvals and narrowings have their modules).

A decision reads its context without a lock (sql.decide_context), runs the engine, and stores its
record (Decision row, decision step, per-episode guard, governance-log outbox row) together or not
at all. A routine verdict (allow, block, rewrite) is one statement that commits by itself
(sql.decision_write); an ask, a terminate, an explicit step index or a first decision under a
policy version takes a transaction (_store_in_transaction). Either write happens only if no other
decision of the episode was stored since the read (the guard's `rev`); otherwise the decision is
made again. The log's outbox is chained by audit's governance_log_flush, off the critical path.
"""

import functools
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import governance_log_defer, log_flush_soon, log_payload
from apps.core import outbox
from apps.core.events import LogEvent
from apps.policies import engine, masking, prefetch, selectors, sql
from apps.policies.engine_cache import cached, compiled
from apps.policies.models import Approval, Decision, DecisionStatus
from apps.policies.records import (
    BoundVersion,
    DecideContext,
    DecideInput,
    DecisionRecord,
    DecisionRow,
    GuardWrite,
)
from apps.tenancy import idempotency
from apps.tenancy.models import Project
from apps.traces import schema, signals
from apps.traces import services as traces
from apps.traces.models import Episode, EpisodeStatus

__all__ = ["DecideInput", "decision_make"]

ALLOWING = (engine.ALLOW, engine.REWRITE)
ROUTINE = (engine.ALLOW, engine.BLOCK, engine.REWRITE)
NO_POLICY_RULE = "no-policy"
# Optimistic attempts before deciding under the guard's row lock, which nothing can overtake.
OPTIMISTIC_ATTEMPTS = 3


class _Moved(Exception):
    """Another decision of the episode was stored since the context was read."""


def decision_make(*, project: Project, data: DecideInput, actor: str, context: DecideContext | None = None
                  ) -> Decision:
    """Decides one tool call and stores it. Raises StepConflict if `step_index` holds another step.

    Call outside a transaction (a routine decision commits by itself). `context`: what
    sql.decide_context_by_key read along with the caller's key, if it did. After
    OPTIMISTIC_ATTEMPTS lost races it decides once more holding the guard's row lock.
    A call under an idempotency key already used returns the decision stored under it (or raises
    IdempotencyKeyReused when the key was used for another call).
    """
    try:
        return _decide_until_stored(project, data, actor, context)
    except IntegrityError as exc:
        claim = data.idempotency
        if claim is None or not idempotency.key_taken(exc):
            raise
    # Another request under the same key stored its decision while this one was deciding.
    stored = idempotency.stored_find(api_key_id=claim.api_key_id, key=claim.key)
    assert stored is not None  # the request that took the key committed it
    return _decision_under_key(project, claim, stored)


def _decision_under_key(project: Project, claim: idempotency.Claim, stored: idempotency.Stored) -> Decision:
    """The decision an earlier call under the same idempotency key made."""
    idempotency.stored_for(stored, claim)
    decision = selectors.decision_get(project=project, decision_id=stored.response["decision_id"])
    if decision is None:  # the project's decisions were deleted since
        raise idempotency.IdempotencyKeyReused("Idempotency-Key: the decision made under this key is gone.")
    return decision


def _for_caller(decision: Decision, data: DecideInput) -> Decision:
    """A stored decision as its own runtime gets it back: the masks of values it sent given back
    (the runtime holds them; a rewrite must run with them). Nothing is written."""
    decision.final_arguments = masking.arguments_unmasked(decision.final_arguments, data.arguments,
                                                          project_id=decision.project_id)
    return decision


def _decide_until_stored(project: Project, data: DecideInput, actor: str, context: DecideContext | None
                         ) -> Decision:
    for _ in range(OPTIMISTIC_ATTEMPTS):
        try:
            return _decide(project, data, actor, context)
        except _Moved:
            context = None
    with transaction.atomic():
        context = _context_read(project, data)
        sql.guard_lock(episode=context.episode)
        return _decide(project, data, actor)


def _context_read(project: Project, data: DecideInput, context: DecideContext | None = None) -> DecideContext:
    """The decision's context, creating the episode first when it is new (no lock taken)."""
    if context is None:
        context = sql.decide_context(project_id=project.id, external_id=data.episode, agent=data.agent,
                                     claim=data.idempotency,
                                     provenance=prefetch.provenance_values(project_id=project.id, data=data))
    if context is None or (data.environment and context.episode.environment != data.environment):
        # Only an unknown episode (or a changed environment) needs the upsert and its savepoints.
        # It commits on its own, so the call is checked first: input the trace store refuses
        # (InvalidInput, a 400) must leave nothing behind, not even the episode.
        schema.step_normalize({"kind": "decision", "actor": "governance", "agent": data.agent, "tool": data.tool,
                               "arguments": data.arguments}, "step")
        fields = {"environment": data.environment} if data.environment else {}
        traces.episode_upsert(project=project, external_id=data.episode, **fields)
        context = sql.decide_context(project_id=project.id, external_id=data.episode, agent=data.agent,
                                     claim=data.idempotency)
        assert context is not None  # the upsert above created the episode
    return context


def _decision_replayed(episode: Episode, data: DecideInput, step_index: int) -> Decision | None:
    """A runtime retrying a decision it numbered itself gets the decision already made."""
    earlier = Decision.objects.filter(episode=episode, step_index=step_index).first()
    if earlier is None:
        return None
    sent = masking.arguments_unmasked(earlier.arguments, data.arguments, project_id=earlier.project_id)
    if (earlier.kind, earlier.tool, earlier.agent, sent) != (data.kind, data.tool, data.agent, data.arguments):
        raise traces.StepConflict(step_index)
    return _for_caller(earlier, data)


def _policy_for(version: BoundVersion) -> engine.CompiledPolicy:
    policy = cached(digest=version.digest)
    return policy or compiled(digest=version.digest, source=sql.version_source(version_id=version.id))


def _decide(project: Project, data: DecideInput, actor: str, context: DecideContext | None = None) -> Decision:
    """One attempt: read (unless given), decide, store. Raises _Moved when the guard moved meanwhile."""
    started = time.perf_counter()
    context = _context_read(project, data, context)
    if data.idempotency is not None and context.prior is not None:
        return _for_caller(_decision_under_key(project, data.idempotency, context.prior), data)
    if data.step_index is not None:
        replay = _decision_replayed(context.episode, data, data.step_index)
        if replay is not None:
            return replay
    record = _record(project, data, actor, context, started)
    if _routine(record):
        # The checks the new step calls for (a block's violation, runtime contracts) are promised in
        # the decision's own statement: a crash right after it cannot lose them.
        work = context.runtime_contracts or record.verdict.verdict in engine.STOPPING
        written = sql.decision_write(record=record, log_payload=log_payload(record.log),
                                     tasks=signals.steps_work_tasks() if work else [])
        if written is None:
            raise _Moved
        index, promised = written
        record.row["step_index"] = index
        args = [context.episode.pk, index]
        for row_id, task in promised:
            transaction.on_commit(functools.partial(outbox.task_promised, row_id=row_id, task=task, args=args))
    else:
        _store_in_transaction(project=project, record=record)
    transaction.on_commit(lambda: log_flush_soon(project.id))
    decision = Decision(**record.row)
    decision.episode = context.episode
    decision._state.adding = False
    decision.final_arguments = record.answer  # the caller's own values (stored masked if sensitive)
    return decision


_NOTHING_HIDDEN: frozenset[str] = frozenset()


def _verdict(data: DecideInput, context: DecideContext, environment: str, untrusted: bool,
             provenance: engine.ProvenanceView | None = None
             ) -> tuple[engine.Verdict, BoundVersion | None, dict, frozenset[str]]:
    """The engine's verdict, the version it applied (None when no policy or a terminated episode),
    the context it saw (kept as evidence for a non-allow) and the arguments the policy marks sensitive."""
    episode, guard = context.episode, context.guard
    if episode.status == EpisodeStatus.TERMINATED:
        return engine.Verdict(engine.TERMINATE, data.arguments, "this episode was terminated by governance",
                              engine.TERMINATED_RULE), None, {}, _NOTHING_HIDDEN
    version = context.version_for(agent=data.agent, environment=environment)
    if version is None:
        return engine.Verdict(engine.BLOCK, data.arguments, "no policy governs this agent; ask an admin",
                              NO_POLICY_RULE), None, {}, _NOTHING_HIDDEN
    gov = context.governance
    ctx = engine.Context(
        untrusted=untrusted, counts=guard.counts, steps=episode.step_count, environment=environment,
        state=gov["state"], suspended=gov["suspended"], revoked_tools=gov["revoked_tools"],
        arg_bounds=gov["arg_bounds"], now=timezone.now(),
        provenance=provenance or selectors.episode_provenance(episode_id=episode.pk, arguments=data.arguments,
                                                              prefetched=context.provenance),
    )
    prefetch.remember(project_id=episode.project_id, agent=data.agent, digest=version.digest)
    overlays = [compiled(digest=n["digest"], source=n["source"], narrowing=True) for n in guard.narrowings]
    policy = _policy_for(version)
    verdict = engine.decide(policy, engine.Call(data.tool, data.arguments, data.agent, data.kind), ctx, overlays)
    seen = {"untrusted": untrusted, "counts": dict(guard.counts), "steps": episode.step_count,
            "environment": environment, "state": gov["state"], "narrowings": len(overlays)}
    hidden = policy.sensitive_args(data.tool) if policy.sensitive and data.kind == engine.TOOL else _NOTHING_HIDDEN
    return verdict, version, seen, hidden


def _record(project: Project, data: DecideInput, actor: str, context: DecideContext, started: float,
            provenance: engine.ProvenanceView | None = None) -> DecisionRecord:
    """Decides and builds everything the decision stores. `provenance`: the episode's index as the
    engine reads it (default: the stored one, selectors.episode_provenance)."""
    episode, guard = context.episode, context.guard
    environment = data.environment or episode.environment
    untrusted = data.untrusted or guard.untrusted or context.untrusted_seen
    verdict, version, seen, hidden = _verdict(data, context, environment, untrusted, provenance)
    answer = verdict.arguments  # what the caller gets back: its own values, even sensitive ones
    if hidden & data.arguments.keys():
        verdict, arguments, clear = _masked(project.id, hidden, data.arguments, verdict)
    else:
        arguments, clear = data.arguments, {}
    digest = version.digest if version else ""
    step: dict[str, Any] = {
        "kind": "decision", "actor": "governance", "agent": data.agent, "tool": data.tool,
        "arguments": arguments,
        "result": {"verdict": verdict.verdict, "arguments": verdict.arguments, "message": verdict.message,
                   "rule": verdict.rule},
        "attributes": {"verdict": verdict.verdict, "rule": verdict.rule, "decision_id": context.decision_id,
                       "policy": digest or None},
    }
    if data.kind == engine.MESSAGE:
        step["attributes"]["kind"] = engine.MESSAGE
    if verdict.finding is not None:  # where the refused value came from, for the violation it becomes
        step["attributes"].update(finding=verdict.finding.as_dict(), detail=verdict.detail)
    full = verdict.verdict != engine.ALLOW
    evidence = {}
    if full:
        evidence = {"context": seen, "detail": verdict.detail, "arguments_before": arguments,
                    "arguments_after": verdict.arguments,
                    "finding": verdict.finding.as_dict() if verdict.finding else None}
    now = timezone.now()
    row = DecisionRow(
        id=context.decision_id, project_id=project.id, episode_id=episode.pk, step_index=data.step_index,
        agent=data.agent, kind=data.kind, tool=data.tool, arguments=arguments, final_arguments=verdict.arguments,
        verdict=verdict.verdict, outcome=verdict.verdict,
        status=DecisionStatus.PENDING if verdict.verdict == engine.ASK else DecisionStatus.DECIDED,
        rule=verdict.rule or "", message=verdict.message, policy_version_id=version.id if version else None,
        policy_digest=digest, tier="full" if full else "light", evidence=evidence, created_at=now,
        latency_us=int((time.perf_counter() - started) * 1_000_000),
    )
    counts = guard.counts
    if verdict.verdict in ALLOWING and data.kind == engine.TOOL:  # `calls` conditions count tool calls
        counts = {**counts, data.tool: counts.get(data.tool, 0) + 1}
    log = {"decision_id": context.decision_id, "episode": data.episode, "agent": data.agent, "tool": data.tool,
           "verdict": verdict.verdict, "rule": verdict.rule, "policy": digest or None}
    if data.kind == engine.MESSAGE:
        log["kind"] = engine.MESSAGE
    if clear:  # the log keeps each sensitive value's mask (its digest), never the value
        log["sensitive"] = {name: arguments[name] for name in sorted(clear)}
    # Steps from the count seen before this decision on are scanned again next time, so an
    # untrusted step committed meanwhile is never skipped.
    guard_write = GuardWrite(counts=counts, untrusted=untrusted, scanned_to=episode.step_count, now=now)
    return DecisionRecord(call=data, context=context, verdict=verdict, version=version, row=row, step=step,
                          guard=guard_write, actor=actor, log=log,
                          clear=clear if verdict.verdict == engine.ASK else {}, answer=answer)


def _masked(project_id: int, hidden: frozenset[str], arguments: dict, verdict: engine.Verdict
            ) -> tuple[engine.Verdict, dict, dict]:
    """The verdict as stored (sensitive values masked in its arguments, message, detail and
    evidence), the call's arguments as stored, and the clear sensitive values {name: value}."""
    masker = masking.masker_for(project_id=project_id, names=hidden)
    finding = verdict.finding
    if finding is not None and finding.argument in hidden:
        finding = finding._replace(value=masker.value(finding.value))
    stored = replace(verdict, arguments=masker.arguments(verdict.arguments), finding=finding,
                     message=masker.text(verdict.message, arguments, verdict.arguments) or "",
                     detail=masker.text(verdict.detail, arguments, verdict.arguments))
    return stored, masker.arguments(arguments), {k: arguments[k] for k in hidden & arguments.keys()}


def _routine(record: DecisionRecord) -> bool:
    """One statement suffices: an allow/block/rewrite the runtime did not number, under the version
    the episode already records (or no policy)."""
    versions = record.context.episode.versions or {}
    return (record.verdict.verdict in ROUTINE and record.call.step_index is None
            and (record.version is None or versions.get("policy") == record.version.digest))


@transaction.atomic
def _store_in_transaction(*, project: Project, record: DecisionRecord) -> None:
    """The transactional write: asks, terminations, explicit step indexes, a first decision under a version.

    Takes the guard's row lock (sql.guard_lock) for the rest of the transaction and raises _Moved
    if another decision was stored since the context was read.
    """
    context, row, verdict = record.context, record.row, record.verdict
    episode = context.episode
    locked = sql.guard_lock(episode=episode)
    if locked.rev != max(context.guard.rev, 0):
        raise _Moved
    if record.version is not None and (episode.versions or {}).get("policy") != record.version.digest:
        # Record the version in force on the episode (once per episode and version).
        traces.episode_upsert(project=project, external_id=record.call.episode,
                              versions={**(episode.versions or {}), "policy": record.version.digest})
    fields = {k: v for k, v in record.step.items() if k != "kind"}
    row["step_index"] = traces.step_append(episode=episode, kind="decision", index=record.call.step_index,
                                           **fields).index
    sql.decision_insert(row=row)
    sql.guard_write(row=row, guard=record.guard, rev=locked.rev)
    if verdict.verdict == engine.ASK:
        decision = Decision(**row)
        decision._state.adding = False
        Approval.objects.create(decision=decision, project=project, default=verdict.default or engine.BLOCK,
                                deadline=row["created_at"] + timedelta(seconds=verdict.timeout or 60),
                                clear_arguments=record.clear)
    if verdict.verdict == engine.TERMINATE and episode.status != EpisodeStatus.TERMINATED:
        traces.episode_end(episode=episode, status=EpisodeStatus.TERMINATED,
                           outcome={"termination_reason": f"policy: {verdict.rule or 'default'}"})
    governance_log_defer(project=project, event=LogEvent.DECISION, actor=record.actor, data=record.log)
    if record.call.idempotency is not None:
        idempotency.idempotency_record(claim=record.call.idempotency, response={"decision_id": row["id"]})
