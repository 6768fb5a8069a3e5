import pytest

from apps.audit.services import governance_log_append, governance_log_defer
from apps.reviews.models import Violation
from tests.factories import EpisodeFactory

pytestmark = pytest.mark.django_db


def test_overview_counts_episodes_by_status_in_my_project_only(login, viewer, project, other_project):
    EpisodeFactory(project=project, status="running")
    EpisodeFactory(project=project, status="terminated")
    EpisodeFactory(project=other_project, status="running")
    response = login(viewer).get("/p/acme/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content
    summary = response.context["summary"]
    assert summary["episodes"]["total"] == 2
    assert summary["episodes"]["running"] == 1
    assert summary["episodes"]["terminated"] == 1


def test_overview_counts_open_violations_by_severity(login, viewer, project):
    episode = EpisodeFactory(project=project)
    Violation.objects.create(project=project, episode=episode, source="contract", name="a", severity="high")
    Violation.objects.create(project=project, episode=episode, source="contract", name="b", severity="high",
                             status="dismissed")
    response = login(viewer).get("/p/acme/", headers={"HX-Request": "true"})
    card = response.content.decode()
    assert "Open violations</a>: 1<" in card
    assert "high 1" in card


def test_overview_shows_governance_log_length(login, viewer, project):
    governance_log_append(project=project, event="test.event", actor="t", data={})
    governance_log_append(project=project, event="test.event", actor="t", data={})
    summary = login(viewer).get("/p/acme/").context["summary"]
    assert summary["log"]["entries"] == 2


def test_overview_log_length_includes_decisions_not_yet_chained(login, viewer, project):
    governance_log_defer(project=project, event="decision", actor="key:runtime", data={"decision_id": 1})
    summary = login(viewer).get("/p/acme/").context["summary"]
    assert summary["log"]["entries"] == 1


def test_empty_project_overview_explains_how_to_start(login, viewer):
    response = login(viewer).get("/p/acme/")
    assert b"No episodes yet" in response.content
    assert b"No decisions yet" in response.content
