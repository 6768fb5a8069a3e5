"""Writes for violations: recording them (deduplicated per episode and source name) and triage."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.audit.services import governance_log_append
from apps.core.events import LogEvent
from apps.policies import engine as policy_engine
from apps.reviews.models import SEVERITY_RANK, Severity, Source, Status, Violation, ViolationComment
from apps.tenancy.actors import Actor, actor_name, actor_user
from apps.tenancy.models import Membership, Role
from apps.traces import services as traces
from apps.traces.models import Episode, Step

# The severity of the violation a stopping decision (policy engine.STOPPING) records.
STOPPING_VERDICTS = {policy_engine.BLOCK: Severity.MEDIUM, policy_engine.TERMINATE: Severity.HIGH}
AFTER_TERMINATION_RULE = policy_engine.TERMINATED_RULE


def _recount(episode: Episode) -> None:
    traces.episode_violation_count_set(episode=episode, count=Violation.objects.filter(episode=episode).count())


@transaction.atomic
def violation_record(*, episode: Episode, source: str, name: str, version: str, severity: str,
                     first_step_index: int | None, evidence: dict, agent: str = "") -> tuple[Violation, bool]:
    """Creates the violation or refreshes the existing one for (episode, source, name).

    A re-check that fails again keeps the reviewer's status, notes and assignee; it only updates
    what the checker knows (version, evidence, first step), and never lowers the severity.
    """
    violation, created = Violation.objects.select_for_update().get_or_create(
        episode=episode, source=source, name=name,
        defaults={"project_id": episode.project_id, "version": version, "severity": severity,
                  "first_step_index": first_step_index, "evidence": evidence, "agent": agent},
    )
    if created:
        _recount(episode)
        return violation, True
    if SEVERITY_RANK[Severity(severity)] > SEVERITY_RANK[Severity(violation.severity)]:
        violation.severity = severity
    changed = (violation.version, violation.first_step_index, violation.evidence) != (version, first_step_index, evidence)
    if changed:
        violation.version, violation.first_step_index, violation.evidence = version, first_step_index, evidence
        violation.agent = agent or violation.agent
    violation.updated_at = timezone.now()
    violation.save(update_fields=["version", "first_step_index", "evidence", "agent", "severity", "updated_at"])
    return violation, False


def violations_from_decisions(*, episode: Episode, first_index: int, steps: list[dict] | None = None,
                              known: dict[str, Violation | None] | None = None) -> list[Violation]:
    """Records a policy violation for each blocked or terminated decision step from `first_index` on.

    `steps`: the episode's steps from `first_index` on, when the caller holds them (a run's round),
    as stored (index, kind, agent, tool, arguments, attributes); otherwise they are read.
    `known`: the caller's copy of the episode's policy violations by name (None: there is none),
    filled and kept current here, for callers that record several rounds in one transaction (a
    run); the caller empties it when the transaction ends. Names it lacks are read.
    """
    if steps is None:
        decisions = list(
            Step.objects.filter(episode=episode, kind="decision", index__gte=first_index,
                                attributes__verdict__in=list(STOPPING_VERDICTS))
            .order_by("index")
            .values("index", "agent", "tool", "arguments", "attributes")
        )
    else:
        decisions = sorted((s for s in steps if s["kind"] == "decision" and s["index"] >= first_index
                            and (s.get("attributes") or {}).get("verdict") in STOPPING_VERDICTS),
                           key=lambda s: s["index"])
    if not decisions:
        return []
    names = {str((d["attributes"] or {}).get("rule") or "default") for d in decisions}
    if known is None:
        known = {}
    missing = names - known.keys()
    if missing:
        known.update(dict.fromkeys(missing))
        known.update((v.name, v) for v in Violation.objects.filter(episode=episode, source=Source.POLICY,
                                                                    name__in=missing))
    recorded = []
    for d in decisions:
        attrs = d["attributes"] or {}
        verdict = attrs.get("verdict")
        name = str(attrs.get("rule") or "default")
        if name == AFTER_TERMINATION_RULE:
            continue  # a consequence of an earlier termination, already recorded as its own violation
        existing = known.get(name)
        if existing is not None and existing.first_step_index is not None and existing.first_step_index <= d["index"]:
            continue  # dedup: the first stopping decision of this rule is the violation
        evidence = {"decision_id": attrs.get("decision_id"), "verdict": verdict, "tool": d["tool"],
                    "arguments": d["arguments"], "rule": attrs.get("rule"), "steps": [d["index"]], "contained": True}
        if attrs.get("finding"):  # the refused value and the step it first appeared in
            evidence.update(finding=attrs["finding"], detail=attrs.get("detail"))
        violation, _ = violation_record(
            episode=episode, source=Source.POLICY, name=name, version=str(attrs.get("policy") or ""),
            severity=STOPPING_VERDICTS[verdict], first_step_index=d["index"], evidence=evidence, agent=d["agent"],
        )
        known[name] = violation
        recorded.append(violation)
    return recorded


def _member(project, username: str | None):
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"assignee": [f"'{username}' is not a member of this project."]})
    if not Membership.objects.get(project=project, user=user).allows(Role.REVIEWER):
        raise ValidationError({"assignee": [f"'{username}' cannot triage: needs the reviewer role."]})
    return user


_UNSET = object()
MAX_COMMENT = 4000
BULK_ACTIONS = {"acknowledge": Status.ACKNOWLEDGED, "dismiss": Status.DISMISSED, "escalate": Status.ESCALATED,
                "assign": None}
MAX_BULK = 5000


@transaction.atomic
def violation_update(*, violation: Violation, actor: Actor, status: str | None = None, notes: str | None = None,
                     assignee=_UNSET, comment: str | None = None) -> Violation:
    """Triage: move along open → acknowledged / dismissed / escalated, comment, (un)assign.

    `comment` adds to the violation's history (author, time, text); dismissing needs one, the
    reason. `notes` is the API's older name for a comment. `assignee` is a username (None
    unassigns; leave it out to keep the current one). Logs LogEvent.VIOLATION_UPDATED with the
    comment in the same transaction.
    """
    text = (comment if comment is not None else notes or "").strip()
    if len(text) > MAX_COMMENT:
        raise ValidationError({"comment": [f"at most {MAX_COMMENT} characters"]})
    locked = Violation.objects.select_for_update().get(pk=violation.pk)
    before = {"status": locked.status, "assignee": locked.assignee.username if locked.assignee else None}
    if status is not None and status != locked.status:
        if status not in Status.values:
            raise ValidationError({"status": [f"must be one of {', '.join(Status.values)}"]})
        if not locked.can_move_to(status):
            raise ValidationError({"status": [f"cannot move from {locked.status} to {status}"]})
        if status == Status.DISMISSED and not text:
            raise ValidationError({"comment": ["Say why it is dismissed: a dismissal needs a reason."]})
        locked.status = status
    if text:
        locked.notes = text  # the latest comment, for API readers of `notes`
        ViolationComment.objects.create(
            project_id=locked.project_id, violation=locked, author=actor_user(actor), author_name=actor_name(actor),
            text=text, status=locked.status if locked.status != before["status"] else "")
    if assignee is not _UNSET:
        locked.assignee = _member(locked.project, assignee)
    locked.updated_at = timezone.now()
    locked.save(update_fields=["status", "notes", "assignee", "updated_at"])
    governance_log_append(
        project=locked.project, event=LogEvent.VIOLATION_UPDATED, actor=actor_name(actor),
        data={"violation": locked.id, "episode": locked.episode.external_id, "source": locked.source,
              "name": locked.name, "from": before["status"], "to": locked.status,
              "assignee": locked.assignee.username if locked.assignee else None,
              "comment": text or None},
    )
    return locked


@transaction.atomic
def violations_bulk_update(*, violations: QuerySet[Violation], action: str, actor: Actor, reason: str = "",
                           assignee: str | None = None) -> int:
    """One triage action on many violations (a selection, or every one matching a filter): each is
    updated and logged as `violation_update` would, in one transaction. Violations the action
    cannot move (already there, or no such transition) are left as they are; returns how many moved."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": [f"must be one of {', '.join(BULK_ACTIONS)}"]})
    target = BULK_ACTIONS[action]
    ids = list(violations.order_by("id").values_list("id", flat=True)[:MAX_BULK + 1])
    if len(ids) > MAX_BULK:
        raise ValidationError({"violations": [f"at most {MAX_BULK} at once; narrow the filter"]})
    if not ids:
        raise ValidationError({"violations": ["Select at least one violation."]})
    if target == Status.DISMISSED and not reason.strip():
        raise ValidationError({"comment": ["Say why they are dismissed: a dismissal needs a reason."]})
    if action == "assign":
        _member(violations.first().project, assignee)  # refuse a non-reviewer before touching any
    moved = 0
    for violation in Violation.objects.filter(pk__in=ids).select_related("episode", "assignee").order_by("id"):
        if target is not None and not (violation.status != target and violation.can_move_to(target)):
            continue
        changes = {"status": target} if target is not None else {"assignee": assignee}
        violation_update(violation=violation, actor=actor, comment=reason, **changes)
        moved += 1
    return moved
