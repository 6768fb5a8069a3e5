"""Violations: from failed verdicts and stopping decisions, deduplicated; triage API and permissions."""

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import GovernanceLogEntry
from apps.contracts import services as contracts
from apps.reviews import services
from apps.reviews.models import Violation
from tests.contracts.builders import NO_DELETE, ingest, publish
from tests.contracts.trace_builders import act, decision, say

pytestmark = pytest.mark.django_db


@pytest.fixture
def violation(project):
    publish(project, NO_DELETE)
    episode = ingest(project, "ep-1", [act("delete_file", agent="cleaner"), say("done")], end="completed")
    contracts.episode_check(episode=episode)
    return Violation.objects.get(episode=episode)


def test_a_failed_verdict_records_agent_and_first_step(violation):
    assert (violation.agent, violation.first_step_index, violation.status) == ("cleaner", 0, "open")


def test_blocked_and_terminated_decisions_become_policy_violations(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        episode = ingest(project, "ep-2", [decision("send_money", "allow", rule="ok"),
                                           decision("send_money", "block", rule="allow-list"),
                                           decision("delete_all", "terminate", rule="kill")])
    rows = {v.name: v for v in Violation.objects.filter(episode=episode)}
    assert set(rows) == {"allow-list", "kill"}
    assert (rows["allow-list"].source, rows["allow-list"].severity, rows["allow-list"].first_step_index) == (
        "policy", "medium", 1)
    assert rows["kill"].severity == "high" and rows["kill"].evidence["contained"] is True
    episode.refresh_from_db()
    assert episode.violation_count == 2


def test_repeated_blocks_by_the_same_rule_are_one_violation_at_the_first_step(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        episode = ingest(project, "ep-3", [decision("pay", "block", rule="r"), say("retry"),
                                           decision("pay", "block", rule="r")])
    assert list(Violation.objects.filter(episode=episode).values_list("first_step_index", flat=True)) == [0]


def test_a_reviewer_acknowledges_with_notes_and_the_update_is_logged(violation, reviewer):
    services.violation_update(violation=violation, actor="rita", status="acknowledged", notes="looking",
                              assignee="rita")
    violation.refresh_from_db()
    assert (violation.status, violation.notes, violation.assignee.username) == ("acknowledged", "looking", "rita")
    entry = GovernanceLogEntry.objects.get(event="violation.updated")
    assert (entry.data["from"], entry.data["to"], entry.data["violation"]) == ("open", "acknowledged", violation.pk)


def test_a_dismissed_violation_cannot_be_escalated_directly(violation):
    services.violation_update(violation=violation, actor="rita", status="dismissed", comment="a test run")
    with pytest.raises(ValidationError) as info:
        services.violation_update(violation=violation, actor="rita", status="escalated")
    assert "status" in info.value.message_dict


def test_a_viewer_cannot_be_assigned(violation, viewer):
    with pytest.raises(ValidationError) as info:
        services.violation_update(violation=violation, actor="rita", assignee="victor")
    assert "assignee" in info.value.message_dict


def test_a_recheck_keeps_the_reviewers_triage(violation, project):
    services.violation_update(violation=violation, actor="rita", status="escalated", notes="bad")
    contracts.episode_check(episode=violation.episode)
    violation.refresh_from_db()
    assert (violation.status, violation.notes) == ("escalated", "bad")
    assert Violation.objects.count() == 1


# API


def test_a_read_key_lists_and_filters_violations(violation, project, make_key, api):
    client = api(make_key(project, ["read"]))
    body = client.get("/api/v1/violations", {"severity": "high", "status": "open"}).json()
    assert [v["id"] for v in body["results"]] == [violation.pk]
    assert client.get("/api/v1/violations", {"source": "policy"}).json()["count"] == 0
    assert client.get(f"/api/v1/violations/{violation.pk}").json()["episode"] == "ep-1"


def test_a_read_key_cannot_update_a_violation(violation, project, make_key, api):
    r = api(make_key(project, ["read"])).patch(f"/api/v1/violations/{violation.pk}", {"status": "dismissed"},
                                               format="json")
    assert r.status_code == 403
    violation.refresh_from_db()
    assert violation.status == "open"


def test_an_admin_key_updates_status_and_assignee(violation, project, reviewer, make_key, api):
    r = api(make_key(project, ["admin"])).patch(
        f"/api/v1/violations/{violation.pk}", {"status": "escalated", "assignee": "rita", "notes": "wire fraud"},
        format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["assignee"], r.json()["notes"]) == ("escalated", "rita", "wire fraud")


def test_an_unknown_status_is_a_400_naming_the_field(violation, project, make_key, api):
    r = api(make_key(project, ["admin"])).patch(f"/api/v1/violations/{violation.pk}", {"status": "fixed"},
                                                format="json")
    assert r.status_code == 400 and "status" in r.json()["error"]["fields"]


def test_a_forbidden_transition_is_a_400_and_writes_nothing(violation, project, make_key, api):
    client = api(make_key(project, ["admin"]))
    client.patch(f"/api/v1/violations/{violation.pk}", {"status": "dismissed", "notes": "a test run"}, format="json")
    r = client.patch(f"/api/v1/violations/{violation.pk}", {"status": "escalated", "notes": "x"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("status:")
    violation.refresh_from_db()
    assert (violation.status, violation.notes) == ("dismissed", "a test run")
    assert GovernanceLogEntry.objects.filter(event="violation.updated").count() == 1


def test_an_assignee_outside_the_project_is_a_400(violation, project, outsider, make_key, api):
    r = api(make_key(project, ["admin"])).patch(f"/api/v1/violations/{violation.pk}", {"assignee": "oscar"},
                                                format="json")
    assert r.status_code == 400 and "assignee" in r.json()["error"]["fields"]


def test_a_key_of_another_project_can_neither_see_nor_update(violation, other_project, make_key, api):
    client = api(make_key(other_project, ["admin"]))
    assert client.get("/api/v1/violations").json()["count"] == 0
    assert client.get(f"/api/v1/violations/{violation.pk}").status_code == 404
    assert client.patch(f"/api/v1/violations/{violation.pk}", {"status": "dismissed"}, format="json").status_code == 404


def test_counts_group_by_severity_and_agent(violation, project, make_key, api):
    body = api(make_key(project, ["read"])).get("/api/v1/violations/counts").json()
    assert body["by_severity"] == {"high": 1} and body["by_agent"] == {"cleaner": 1}


def test_a_failure_found_at_the_end_names_the_agent_of_its_step(project):
    publish(project, "name: grounded\nrules:\n  - grounding: {}\n")
    episode = ingest(project, "g", [act("get_balance"), say("You owe 310 EUR to Jane Doe.", agent="writer")],
                     end="completed")
    contracts.episode_check(episode=episode)
    violation = Violation.objects.get(episode=episode)
    assert (violation.first_step_index, violation.agent) == (1, "writer")
