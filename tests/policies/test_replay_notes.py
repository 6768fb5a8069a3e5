"""The replay shows how each ask ended: who answered, when, the note and what the runtime was told."""

import pytest

from apps.policies import approvals
from apps.policies.models import Approval
from apps.traces.models import Episode

pytestmark = pytest.mark.django_db


def _replay(client, project):
    episode = Episode.objects.get(project=project, external_id="ep-1")
    return client.get(f"/p/{project.slug}/traces/e/{episode.pk}/").content.decode()


def test_a_pending_ask_says_it_waits_for_a_reviewer(login, viewer, project, bank_policy, decide):
    decide("update_password", {"user": "bob"})
    html = _replay(login(viewer), project)
    assert 'data-testid="ask-outcome"' in html and "Waiting for a reviewer" in html


def test_an_approved_ask_shows_who_approved_it_and_the_note(login, viewer, reviewer, project, bank_policy, decide):
    decision_id = decide("update_password", {"user": "bob"}).json()["decision_id"]
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=True, actor=reviewer,
                              note="customer confirmed by phone")
    html = _replay(login(viewer), project)
    assert "Waiting for a reviewer" not in html
    assert "Approved" in html and "<strong>rita</strong>" in html and "customer confirmed by phone" in html
    assert "approved by rita: customer confirmed by phone" in html


def test_a_denied_ask_shows_the_denial(login, viewer, reviewer, project, bank_policy, decide):
    decision_id = decide("update_password", {"user": "bob"}).json()["decision_id"]
    approvals.approval_answer(approval=Approval.objects.get(pk=decision_id), approve=False, actor=reviewer,
                              note="no ticket")
    html = _replay(login(viewer), project)
    assert "Denied" in html and "denied by rita: no ticket" in html


def test_another_projects_approval_never_shows(login, outsider, other_project, project, bank_policy, decide):
    decide("update_password", {"user": "bob"})
    episode = Episode.objects.get(project=project, external_id="ep-1")
    response = login(outsider).get(f"/p/{other_project.slug}/traces/e/{episode.pk}/")
    assert response.status_code == 404
