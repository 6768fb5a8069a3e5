"""Asks: a reviewer's answer to a decision that asked, and the default once its deadline passes."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.services import governance_log_append
from apps.core.events import LogEvent
from apps.policies import engine, sql
from apps.policies.models import Approval, DecisionStatus, EpisodeGuard
from apps.tenancy.actors import Actor, actor_name, actor_user
from apps.tenancy.models import Project
from apps.traces import services as traces
from apps.traces.models import EpisodeStatus


@transaction.atomic
def approval_answer(*, approval: Approval, approve: bool, actor: Actor, note: str = "") -> Approval:
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
    """Applies the default to every pending approval past its deadline. Safe to run repeatedly.

    Each approval in its own transaction, skipping rows another expiry or answer holds.
    """
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


def answer_message(*, status: str, outcome: str, by: str, note: str) -> str:
    """What the runtime (and the agent) is told once an ask is settled, replacing "waiting for a
    reviewer's approval": who answered and the reviewer's note."""
    if status == DecisionStatus.TIMED_OUT:
        text = f"no reviewer answered before the deadline; the default applied ({outcome})"
    else:
        text = f"{'approved' if status == DecisionStatus.APPROVED else 'denied'} by {by}"
    return f"{text}: {note}" if note else text


def _resolve(approval: Approval, status: str, outcome: str, actor: Actor, note: str) -> None:
    """Call holding the approval's row lock; an allow counts against the episode's guard (locked here)."""
    now = timezone.now()
    approval.status, approval.answered_at, approval.note = status, now, note
    approval.answered_by = actor_user(actor)
    approval.clear_arguments = {}  # the sensitive values were for this answer only
    approval.save(update_fields=["status", "answered_at", "answered_by", "note", "clear_arguments"])
    decision = approval.decision
    # The ask's own message stays in the evidence record; `message` is now the answer.
    by = actor_name(actor, default="timeout")  # None: the deadline answered
    decision.evidence = {**(decision.evidence or {}), "asked": decision.message, "answered_by": by}
    decision.status, decision.outcome = status, outcome
    decision.message = answer_message(status=status, outcome=outcome, by=by, note=note)
    decision.save(update_fields=["status", "outcome", "message", "evidence"])
    if outcome == engine.ALLOW and decision.kind == engine.TOOL:  # `calls` conditions count tool calls
        guard = sql.guard_row_locked(episode=decision.episode)
        counts = {**guard.counts, decision.tool: guard.counts.get(decision.tool, 0) + 1}
        EpisodeGuard.objects.filter(pk=guard.pk).update(counts=counts, updated_at=now, rev=F("rev") + 1)
    if outcome == engine.TERMINATE:
        traces.episode_end(episode=decision.episode, status=EpisodeStatus.TERMINATED,
                           outcome={"termination_reason": "approval timed out"})
    governance_log_append(
        project=approval.project, event=LogEvent.APPROVAL_ANSWERED,
        actor=by,
        data={"decision_id": decision.pk, "episode": decision.episode.external_id, "tool": decision.tool,
              "status": status, "outcome": outcome, "note": note},
    )
