"""Violation pages: everyone in the project reads, reviewers triage, outsiders see nothing."""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.contracts import services as contracts
from apps.reviews.models import Violation
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act

pytestmark = pytest.mark.django_db


@pytest.fixture
def violation(project):
    publish(project, NO_DELETE)
    contracts.episode_check(episode=ingest(project, "ep-1", [act("delete_file", agent="cleaner")], end="completed"))
    return Violation.objects.get()


def test_the_list_filters_by_severity_as_a_fragment(violation, viewer, login):
    client = login(viewer)
    hit = client.get("/p/acme/reviews/", {"severity": "high"}, headers={"HX-Request": "true"})
    assert b"ep-1" in hit.content and b"<html" not in hit.content
    miss = client.get("/p/acme/reviews/", {"severity": "low"}, headers={"HX-Request": "true"})
    assert b"ep-1" not in miss.content and b"No violations match" in miss.content


def test_the_list_links_to_the_first_violating_step_of_the_episode(violation, viewer, login):
    r = login(viewer).get("/p/acme/reviews/")
    assert f"/p/acme/traces/e/{violation.episode_id}/?at=0#step-0".encode() in r.content


def test_the_list_has_an_empty_state(project, viewer, login):
    assert b"No violations." in login(viewer).get("/p/acme/reviews/").content


def test_a_reviewer_escalates_from_the_detail_page(violation, reviewer, login):
    r = login(reviewer).post(f"/p/acme/reviews/{violation.pk}/", {"status": "escalated", "notes": "call bank",
                                                                 "assignee": "rita"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and b"Saved." in r.content and b"<html" not in r.content
    violation.refresh_from_db()
    assert (violation.status, violation.notes, violation.assignee.username) == ("escalated", "call bank", "rita")
    assert GovernanceLogEntry.objects.filter(event="violation.updated").count() == 1


def test_a_viewer_reads_but_cannot_triage(violation, viewer, login):
    client = login(viewer)
    page = client.get(f"/p/acme/reviews/{violation.pk}/")
    assert page.status_code == 200 and b"Reviewers triage violations" in page.content
    assert client.post(f"/p/acme/reviews/{violation.pk}/", {"status": "dismissed"}).status_code == 403
    violation.refresh_from_db()
    assert violation.status == "open"


def test_a_forbidden_move_shows_the_error_and_changes_nothing(violation, reviewer, login):
    client = login(reviewer)
    client.post(f"/p/acme/reviews/{violation.pk}/", {"status": "dismissed", "comment": "noise"})
    r = client.post(f"/p/acme/reviews/{violation.pk}/", {"status": "escalated"}, headers={"HX-Request": "true"})
    assert b"cannot move from dismissed to escalated" in r.content
    violation.refresh_from_db()
    assert violation.status == "dismissed"


def test_an_outsider_gets_404(violation, outsider, login):
    client = login(outsider)
    assert client.get("/p/acme/reviews/").status_code == 404
    assert client.get(f"/p/acme/reviews/{violation.pk}/").status_code == 404
    assert client.post(f"/p/acme/reviews/{violation.pk}/", {"status": "dismissed"}).status_code == 404


def test_a_violation_id_from_another_project_is_404_in_ones_own(violation, outsider, login):
    assert login(outsider).get(f"/p/globex/reviews/{violation.pk}/").status_code == 404


def test_the_project_overview_shows_open_violations_by_severity(violation, viewer, login):
    r = login(viewer).get("/p/acme/")
    assert b"Open violations</a>: 1" in r.content and b"high 1" in r.content
