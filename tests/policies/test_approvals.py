"""Asks: approve, deny, the default at the deadline, long-polling for the answer, the expiry task."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import GovernanceLogEntry
from apps.policies import approvals, services
from apps.policies.models import Approval

pytestmark = pytest.mark.django_db


def _ask(decide):
    return decide("update_password", {"user": "bob"}).json()["decision_id"]


def test_an_approved_ask_tells_the_runtime_to_go_ahead(bank_policy, decide, decider, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer)
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("approved", "allow")


def test_an_answered_ask_tells_the_runtime_who_answered_and_the_note(bank_policy, decide, decider, reviewer):
    decision_id = _ask(decide)
    assert decider.get(f"/api/v1/decisions/{decision_id}").json()["message"] == "waiting for a reviewer's approval"
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer,
                              note="customer confirmed by phone")
    body = decider.get(f"/api/v1/decisions/{decision_id}?wait=5").json()
    assert (body["answered_by"], body["note"]) == ("rita", "customer confirmed by phone")
    assert body["message"] == "approved by rita: customer confirmed by phone" and body["answered_at"]


def test_a_timed_out_ask_says_no_reviewer_answered(bank_policy, decide, decider):
    decision_id = _ask(decide)
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert body["answered_by"] == "timeout" and body["message"].startswith("no reviewer answered before the deadline")


def test_a_denied_ask_blocks(bank_policy, decide, decider, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=False, actor=reviewer)
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("denied", "block")


def test_an_unanswered_ask_applies_the_policy_default_at_its_deadline(bank_policy, decide, decider):
    decision_id = _ask(decide)
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    body = decider.get(f"/api/v1/decisions/{decision_id}").json()
    assert (body["status"], body["outcome"]) == ("timed_out", "block")


def test_long_poll_returns_pending_when_the_wait_runs_out(bank_policy, decide, decider):
    decision_id = _ask(decide)
    body = decider.get(f"/api/v1/decisions/{decision_id}?wait=0.3").json()
    assert body["status"] == "pending"


def test_long_poll_wait_is_bounded(bank_policy, decide, decider):
    decision_id = _ask(decide)
    response = decider.get(f"/api/v1/decisions/{decision_id}?wait=600")
    assert response.status_code == 400 and "wait" in response.json()["error"]["message"]


def test_an_ask_cannot_be_answered_twice(bank_policy, decide, reviewer):
    approval = Approval.objects.get(pk=_ask(decide))
    approvals.approval_answer(approval=approval, approve=True, actor=reviewer)
    with pytest.raises(ValidationError):
        approvals.approval_answer(approval=approval, approve=False, actor=reviewer)


def test_answering_is_recorded_in_the_governance_log(bank_policy, decide, reviewer):
    decision_id = _ask(decide)
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer)
    entry = GovernanceLogEntry.objects.get(event="approval.answered")
    assert (entry.actor, entry.data["decision_id"], entry.data["outcome"]) == ("rita", decision_id, "allow")


def test_the_expiry_task_applies_defaults_to_overdue_asks_only(bank_policy, decide):
    from apps.policies.tasks import approvals_expire_task

    overdue, fresh = _ask(decide), _ask(decide)
    Approval.objects.filter(pk=overdue).update(deadline=timezone.now() - timedelta(seconds=1))
    assert approvals_expire_task.delay().get() == 1
    assert Approval.objects.get(pk=overdue).status == "timed_out"
    assert Approval.objects.get(pk=fresh).status == "pending"


def test_an_ask_whose_default_is_terminate_ends_the_episode_at_its_deadline(project, admin, decide, decider):
    from apps.traces.models import Episode

    services.policy_publish(project=project, actor=admin, source=(
        "name: strict\nrules:\n  - {tool: wire, effect: deny, fallback: {action: ask, timeout: 5, default: terminate}}\n"))
    decision_id = decide("wire").json()["decision_id"]
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    assert decider.get(f"/api/v1/decisions/{decision_id}").json()["outcome"] == "terminate"
    assert Episode.objects.get(external_id="ep-1").status == "terminated"
