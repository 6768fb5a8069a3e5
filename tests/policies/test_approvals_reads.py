"""Reads never write: an overdue ask leaves the queue, and only the expiry task applies its default."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.policies import selectors
from apps.policies.models import Approval
from apps.policies.tasks import approvals_expire_task

pytestmark = pytest.mark.django_db


def _ask(decide):
    return decide("update_password", {"user": "bob"}).json()["decision_id"]


def test_the_approvals_page_lists_an_overdue_ask_nowhere_and_leaves_it_for_the_task(
        bank_policy, decide, login, reviewer, project):
    decision_id = _ask(decide)
    Approval.objects.filter(pk=decision_id).update(deadline=timezone.now() - timedelta(seconds=1))
    response = login(reviewer).get("/p/acme/policies/approvals/")
    assert response.status_code == 200
    assert list(response.context["pending"]) == []
    assert Approval.objects.get(pk=decision_id).status == "pending"  # the GET changed nothing
    assert approvals_expire_task.delay().get() == 1
    assert Approval.objects.get(pk=decision_id).status == "timed_out"


def test_an_ask_before_its_deadline_is_in_the_queue(bank_policy, decide, project):
    decision_id = _ask(decide)
    assert [a.pk for a in selectors.approval_queue(project=project)] == [decision_id]
