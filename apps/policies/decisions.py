"""The decision service behind POST /decide, approvals (ask), and episode-scoped narrowing.

A decision reads its context without a lock, runs the engine, and stores everything it wrote
(Decision row, decision step, per-episode guard, governance-log outbox row) together or not at
all. A routine verdict (allow, block, rewrite) is one statement; an ask, a terminate or an
explicit step index takes a transaction. Either write happens only if no other decision of the
episode was stored since the read (the guard's `rev`); otherwise the decision is made again.
The log's outbox is chained by governance_log_flush, off the decision's critical path.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.services import governance_log_append, governance_log_defer, log_flush_soon, log_payload
from apps.policies import engine, hotpath
from apps.policies.compiled import cached, compiled
from apps.policies.models import Approval, Decision, DecisionStatus, EpisodeGuard
from apps.tenancy.models import Project
from apps.traces import schema, signals
from apps.traces import services as traces
from apps.traces.models import Episode, EpisodeStatus

ALLOWING = (engine.ALLOW, engine.REWRITE)
ROUTINE = (engine.ALLOW, engine.BLOCK, engine.REWRITE)
NO_POLICY_RULE = "no-policy"
# Optimistic attempts before deciding under the guard's row lock, which nothing can overtake.
OPTIMISTIC_ATTEMPTS = 3


@dataclass
class DecideInput:
    episode: str
    agent: str
    tool: str
    arguments: dict
    step_index: int | None = None
    untrusted: bool = False
    environment: str | None = None


class _Moved(Exception):
    """Another decision of the episode was stored since the context was read."""


def _guard_locked(episode: Episode) -> EpisodeGuard:
    hotpath.guard_lock(episode=episode)
    return EpisodeGuard.objects.get(episode=episode)


def _replayed(episode: Episode, data: DecideInput) -> Decision | None:
    """A runtime retrying a decision it numbered itself gets the decision already made."""
    found = Decision.objects.filter(episode=episode, step_index=data.step_index).first()
    if found is None:
        return None
    if (found.tool, found.agent, found.arguments) != (data.tool, data.agent, data.arguments):
        raise traces.StepConflict(data.step_index)
    return found


def _policy_for(version: hotpath.BoundVersion) -> engine.CompiledPolicy:
    found = cached(digest=version.digest)
    return found or compiled(digest=version.digest, source=hotpath.version_source(version_id=version.id))


def decision_make(*, project: Project, data: DecideInput, actor: str,
                  context: hotpath.DecideContext | None = None) -> Decision:
    """Decides one tool call. Raises StepConflict if `step_index` holds another step.

    `context`: what hotpath.decide_context_by_key read along with the caller's key, if it did.
    """
    for _ in range(OPTIMISTIC_ATTEMPTS):
        try:
            return _decide(project, data, actor, context)
        except _Moved:
            context = None
    with transaction.atomic():
        found = _context(project, data)
        hotpath.guard_lock(episode=found.episode)
        return _decide(project, data, actor)


def _context(project: Project, data: DecideInput, found: hotpath.DecideContext | None = None
             ) -> hotpath.DecideContext:
    if found is None:
        found = hotpath.decide_context(project_id=project.id, external_id=data.episode, agent=data.agent)
    if found is None or (data.environment and found.episode.environment != data.environment):
        # Only an unknown episode (or a changed environment) needs the upsert and its savepoints.
        # It commits on its own, so the call is checked first: input the trace store refuses
        # (InvalidInput, a 400) must leave nothing behind, not even the episode.
        schema.step_normalize({"kind": "decision", "actor": "governance", "agent": data.agent, "tool": data.tool,
                               "arguments": data.arguments}, "step")
        fields = {"environment": data.environment} if data.environment else {}
        traces.episode_upsert(project=project, external_id=data.episode, **fields)
        found = hotpath.decide_context(project_id=project.id, external_id=data.episode, agent=data.agent)
    return found


def _decide(project: Project, data: DecideInput, actor: str, found: hotpath.DecideContext | None = None
            ) -> Decision:
    started = time.perf_counter()
    found = _context(project, data, found)
    episode, guard = found.episode, found.guard
    if data.step_index is not None:
        replay = _replayed(episode, data)
        if replay is not None:
            return replay
    environment = data.environment or episode.environment
    version = None
    untrusted = data.untrusted or guard.untrusted or found.untrusted_seen
    context: dict = {}
    if episode.status == EpisodeStatus.TERMINATED:
        verdict = engine.Verdict(engine.TERMINATE, data.arguments, "this episode was terminated by governance",
                                 engine.TERMINATED_RULE)
    else:
        version = found.version_for(agent=data.agent, environment=environment)
        if version is None:
            verdict = engine.Verdict(engine.BLOCK, data.arguments, "no policy governs this agent; ask an admin",
                                     NO_POLICY_RULE)
        else:
            gov = found.governance
            ctx = engine.Context(
                untrusted=untrusted, counts=guard.counts, steps=episode.step_count, environment=environment,
                state=gov["state"], suspended=gov["suspended"], revoked_tools=gov["revoked_tools"],
                arg_bounds=gov["arg_bounds"], now=timezone.now(),
            )
            overlays = [compiled(digest=n["digest"], source=n["source"], narrowing=True) for n in guard.narrowings]
            verdict = engine.decide(_policy_for(version), engine.Call(data.tool, data.arguments, data.agent), ctx,
                                    overlays)
            context = {"untrusted": untrusted, "counts": dict(guard.counts), "steps": episode.step_count,
                       "environment": environment, "state": gov["state"], "narrowings": len(overlays)}
    digest = version.digest if version else ""
    step = {
        "kind": "decision", "actor": "governance", "agent": data.agent, "tool": data.tool,
        "arguments": data.arguments,
        "result": {"verdict": verdict.verdict, "arguments": verdict.arguments, "message": verdict.message,
                   "rule": verdict.rule},
        "attributes": {"verdict": verdict.verdict, "rule": verdict.rule, "decision_id": found.decision_id,
                       "policy": digest or None},
    }
    full = verdict.verdict != engine.ALLOW
    evidence = {}
    if full:
        evidence = {"context": context, "detail": verdict.detail, "arguments_before": data.arguments,
                    "arguments_after": verdict.arguments}
    now = timezone.now()
    row = dict(
        id=found.decision_id, project_id=project.id, episode_id=episode.pk, step_index=data.step_index,
        agent=data.agent, tool=data.tool, arguments=data.arguments, final_arguments=verdict.arguments,
        verdict=verdict.verdict, outcome=verdict.verdict,
        status=DecisionStatus.PENDING if verdict.verdict == engine.ASK else DecisionStatus.DECIDED,
        rule=verdict.rule or "", message=verdict.message, policy_version_id=version.id if version else None,
        policy_digest=digest, tier="full" if full else "light", evidence=evidence, created_at=now,
        latency_us=int((time.perf_counter() - started) * 1_000_000),
    )
    counts = guard.counts
    if verdict.verdict in ALLOWING:
        counts = {**counts, data.tool: counts.get(data.tool, 0) + 1}
    log = {"decision_id": found.decision_id, "episode": data.episode, "agent": data.agent, "tool": data.tool,
           "verdict": verdict.verdict, "rule": verdict.rule, "policy": digest or None}
    # Steps from the count seen before this decision on are scanned again next time, so an
    # untrusted step committed meanwhile is never skipped.
    guard_state = dict(guard=guard, counts=counts, untrusted=untrusted, scanned_to=episode.step_count, now=now)
    routine = (verdict.verdict in ROUTINE and data.step_index is None
               and (version is None or (episode.versions or {}).get("policy") == version.digest))
    if routine:
        index = hotpath.decision_write(row=row, step=step, log_actor=actor, log_payload=log_payload(log),
                                       **guard_state)
        if index is None:
            raise _Moved
        row["step_index"] = index
        work = found.runtime_contracts or verdict.verdict in engine.STOPPING
        transaction.on_commit(lambda: traces.send_signal(
            signals.steps_appended, episode=episode, first_index=index, count=1, work=work))
    else:
        _store_full(project, found, data, verdict, version, row, step, guard_state, actor, log)
    transaction.on_commit(lambda: log_flush_soon(project.id))
    decision = Decision(**row)
    decision.episode = episode
    decision._state.adding = False
    return decision


@transaction.atomic
def _store_full(project, found, data, verdict, version, row, step, guard_state, actor, log) -> None:
    """The transactional write: asks, terminations, explicit step indexes, a first decision under a version."""
    episode = found.episode
    locked = hotpath.guard_lock(episode=episode)
    if locked.rev != max(found.guard.rev, 0):
        raise _Moved
    if version is not None and (episode.versions or {}).get("policy") != version.digest:
        # Record the version in force on the episode (once per episode and version).
        traces.episode_upsert(project=project, external_id=data.episode,
                              versions={**(episode.versions or {}), "policy": version.digest})
    fields = {k: v for k, v in step.items() if k != "kind"}
    row["step_index"] = traces.step_append(episode=episode, kind="decision", index=data.step_index, **fields).index
    hotpath.decision_insert(row=row)
    hotpath.guard_write(row=row, **{**guard_state, "guard": locked})
    if verdict.verdict == engine.ASK:
        decision = Decision(**row)
        decision._state.adding = False
        Approval.objects.create(decision=decision, project=project, default=verdict.default or engine.BLOCK,
                                deadline=row["created_at"] + timedelta(seconds=verdict.timeout or 60))
    if verdict.verdict == engine.TERMINATE and episode.status != EpisodeStatus.TERMINATED:
        traces.episode_end(episode=episode, status=EpisodeStatus.TERMINATED,
                           outcome={"termination_reason": f"policy: {verdict.rule or 'default'}"})
    governance_log_defer(project=project, event="decision", actor=actor, data=log)


@transaction.atomic
def approval_answer(*, approval: Approval, approve: bool, actor, note: str = "") -> Approval:
    """A reviewer's answer. Answering twice, or after the deadline, is refused."""
    approval = Approval.objects.select_for_update().select_related("decision__episode").get(pk=approval.pk)
    if approval.status != DecisionStatus.PENDING:
        raise ValidationError({"approval": [f"This request was already {approval.get_status_display().lower()}."]})
    if approval.deadline <= timezone.now():
        _resolve(approval, DecisionStatus.TIMED_OUT, approval.default, None, "")
        raise ValidationError({"approval": ["The deadline passed before the answer; the default applied."]})
    status = DecisionStatus.APPROVED if approve else DecisionStatus.DENIED
    _resolve(approval, status, engine.ALLOW if approve else engine.BLOCK, actor, note)
    return approval


def approvals_expire_due(*, project: Project | None = None) -> int:
    """Applies the default to every pending approval past its deadline. Safe to run repeatedly."""
    due = Approval.objects.filter(status=DecisionStatus.PENDING, deadline__lte=timezone.now())
    if project is not None:
        due = due.filter(project=project)
    expired = 0
    for pk in due.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            approval = (Approval.objects.select_for_update(skip_locked=True)
                        .select_related("decision__episode").filter(pk=pk, status=DecisionStatus.PENDING).first())
            if approval is not None:
                _resolve(approval, DecisionStatus.TIMED_OUT, approval.default, None, "")
                expired += 1
    return expired


def _resolve(approval: Approval, status: str, outcome: str, actor, note: str) -> None:
    now = timezone.now()
    approval.status, approval.answered_at, approval.note = status, now, note
    approval.answered_by = actor if getattr(actor, "pk", None) else None
    approval.save(update_fields=["status", "answered_at", "answered_by", "note"])
    decision = approval.decision
    decision.status, decision.outcome = status, outcome
    decision.save(update_fields=["status", "outcome"])
    if outcome == engine.ALLOW:
        guard = _guard_locked(decision.episode)
        counts = {**guard.counts, decision.tool: guard.counts.get(decision.tool, 0) + 1}
        EpisodeGuard.objects.filter(pk=guard.pk).update(counts=counts, updated_at=now, rev=F("rev") + 1)
    if outcome == engine.TERMINATE:
        traces.episode_end(episode=decision.episode, status=EpisodeStatus.TERMINATED,
                           outcome={"termination_reason": "approval timed out"})
    governance_log_append(
        project=approval.project, event="approval.answered",
        actor=str(getattr(actor, "username", None) or "timeout"),
        data={"decision_id": decision.pk, "episode": decision.episode.external_id, "tool": decision.tool,
              "status": status, "outcome": outcome, "note": note},
    )


@transaction.atomic
def narrowing_add(*, project: Project, episode_external_id: str, source: str) -> EpisodeGuard:
    """Narrows the policy for one episode. The overlay can only take permissions away (see engine.decide)."""
    try:
        overlay = engine.compile_policy(source, narrowing=True)
    except engine.PolicyError as exc:
        raise ValidationError({"policy": [str(i) for i in exc.issues]}) from None
    episode, _ = traces.episode_upsert(project=project, external_id=episode_external_id)
    guard = _guard_locked(episode)
    if all(n["digest"] != overlay.digest for n in guard.narrowings):
        narrowings = [*guard.narrowings, {"digest": overlay.digest, "source": source,
                                          "created_at": timezone.now().isoformat()}]
        EpisodeGuard.objects.filter(pk=guard.pk).update(narrowings=narrowings, updated_at=timezone.now(),
                                                         rev=F("rev") + 1)
        guard.narrowings = narrowings
    return guard
