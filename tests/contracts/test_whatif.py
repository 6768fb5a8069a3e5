"""What-if: replaying stored episodes against another contract or policy version."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.contracts import whatif
from apps.contracts.models import WhatIfJob
from tests.contracts.builders import ingest, publish
from tests.contracts.trace_builders import act, decision, say

pytestmark = pytest.mark.django_db

LIMIT_3 = "name: few-searches\nrules:\n  - at_most: {match: {tool: search}, count: 3}\n"
LIMIT_1 = "name: few-searches\nrules:\n  - at_most: {match: {tool: search}, count: 1}\n"


@pytest.fixture
def episodes(project):
    ingest(project, "one-search", [act("search"), say("ok")], end="completed")
    ingest(project, "two-searches", [act("search"), act("search"), say("ok")], end="completed")
    ingest(project, "four-searches", [act("search")] * 4 + [say("ok")], end="completed")


def run(project, **kwargs) -> WhatIfJob:
    job = whatif.whatif_create(project=project, actor="alice", **kwargs)
    return whatif.whatif_run(job_id=job.pk)


def test_a_stricter_version_reports_exactly_the_verdicts_that_would_change(project, episodes):
    publish(project, LIMIT_3)
    job = run(project, source=LIMIT_1)
    assert (job.status, job.total, job.done, job.changed) == ("done", 3, 3, 2)
    rows = {r["external_id"]: r for r in job.results}
    assert set(rows) == {"two-searches", "four-searches"}
    two, four = rows["two-searches"], rows["four-searches"]
    assert (two["before"], two["after"], two["first_after"], two["status_changed"]) == ("pass", "fail", 1, True)
    # Still failing, but the first violating step moves earlier: that is a change too.
    assert (four["first_before"], four["first_after"], four["status_changed"]) == (3, 1, False)
    assert job.summary["before"] == {"pass": 2, "fail": 1} and job.summary["after"] == {"pass": 1, "fail": 2}


def test_the_candidate_can_be_a_published_version_by_number(project, episodes):
    publish(project, LIMIT_1)
    publish(project, LIMIT_3)
    job = run(project, contract="few-searches", version="1")
    assert job.baseline.number == 2
    assert sorted(r["external_id"] for r in job.results) == ["four-searches", "two-searches"]


def test_the_same_version_as_the_baseline_changes_nothing(project, episodes):
    publish(project, LIMIT_3)
    job = run(project, source=LIMIT_3)
    assert (job.total, job.changed, job.results) == (3, 0, [])


def test_last_n_limits_the_replay_to_the_most_recent_episodes(project, episodes):
    publish(project, LIMIT_3)
    job = run(project, source=LIMIT_1, last=1)
    assert job.total == 1 and [r["external_id"] for r in job.results] == ["four-searches"]


def test_filters_select_episodes_by_status(project, episodes):
    ingest(project, "running", [act("search"), act("search")])
    job = run(project, source=LIMIT_1, filters={"status": "running"})
    assert job.total == 1 and job.results[0]["after"] == "fail" and job.results[0]["before"] is None


def test_a_job_is_idempotent_once_done(project, episodes):
    job = run(project, source=LIMIT_1)
    again = whatif.whatif_run(job_id=job.pk)
    assert (again.changed, again.done, again.finished_at) == (job.changed, job.done, job.finished_at)


def test_a_cancelled_job_stops_and_keeps_its_state(project, episodes):
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    whatif.whatif_cancel(job=job)
    job = whatif.whatif_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.done == 0


def test_bad_input_is_refused_naming_the_field(project):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        whatif.whatif_create(project=project, actor="a", source=LIMIT_1, filters={"colour": "red"})
    assert "filters" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        whatif.whatif_create(project=project, actor="a", contract="nope")
    assert "version" in info.value.message_dict


def test_a_policy_what_if_reports_decisions_that_would_change(project):
    ingest(project, "pays", [act("send_money", amount=50), decision("send_money", "allow", rule="pay")],
           end="completed")
    ingest(project, "reads", [decision("read_file", "allow", rule="read")], end="completed")
    policy = "name: strict\ndefault: block\nrules:\n  - tool: read_file\n    effect: allow\n"
    job = run(project, kind="policy", source=policy)
    assert (job.status, job.changed) == ("done", 1), job.error
    [row] = job.results
    assert row["external_id"] == "pays"
    assert row["changed_decisions"][0]["before"] == "allow" and row["changed_decisions"][0]["after"] == "block"


def test_the_api_starts_a_job_and_reports_its_progress(project, episodes, make_key, api, django_capture_on_commit_callbacks):
    client = api(make_key(project, ["admin"]))
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/api/v1/contracts/whatif", {"source": LIMIT_1}, format="json")
    assert r.status_code == 202, r.content
    body = client.get(f"/api/v1/contracts/whatif/{r.json()['id']}").json()
    assert (body["status"], body["progress"], body["changed"]) == ("done", 100, 2)
    assert {r["external_id"] for r in body["results"]} == {"two-searches", "four-searches"}


def test_a_read_key_cannot_start_a_job_and_another_project_cannot_see_one(project, other_project, episodes, make_key, api):
    assert api(make_key(project, ["read"])).post("/api/v1/contracts/whatif", {"source": LIMIT_1},
                                                 format="json").status_code == 403
    job = whatif.whatif_create(project=project, actor="a", source=LIMIT_1)
    other = api(make_key(other_project, ["admin"]))
    assert other.get(f"/api/v1/contracts/whatif/{job.pk}").status_code == 404
    assert other.post(f"/api/v1/contracts/whatif/{job.pk}/cancel").status_code == 404


def test_a_job_cancelled_while_running_stops_at_the_next_boundary_and_keeps_its_results(project, episodes,
                                                                                       monkeypatch):
    monkeypatch.setattr(whatif, "PROGRESS_EVERY", 1)
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    original = whatif._contract_diff

    def diff_then_cancel(job_, episode, subject):
        result = original(job_, episode, subject)
        whatif.whatif_cancel(job=WhatIfJob.objects.get(pk=job_.pk))  # a reviewer presses Cancel meanwhile
        return result

    monkeypatch.setattr(whatif, "_contract_diff", diff_then_cancel)
    job = whatif.whatif_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("cancelled", 1, 3)
    assert job.finished_at is not None


def _lost_worker(job, attempts=1):
    """The job as a killed worker leaves it: running, its heartbeat a minute old."""
    WhatIfJob.objects.filter(pk=job.pk).update(status="running", attempts=attempts,
                                               heartbeat_at=timezone.now() - timedelta(minutes=1))


def test_a_job_whose_worker_was_lost_is_cancelled_at_once(project, episodes):
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    _lost_worker(job)
    job = whatif.whatif_cancel(job=job)
    assert job.status == "cancelled" and job.finished_at is not None


def test_a_second_delivery_leaves_a_job_running_in_a_live_worker_alone(project, episodes):
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    WhatIfJob.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=timezone.now())
    again = whatif.whatif_run(job_id=job.pk)
    assert (again.status, again.done, again.attempts) == ("running", 0, 1)


def test_the_sweep_restarts_a_job_whose_worker_was_lost_and_it_then_finishes(project, episodes):
    publish(project, LIMIT_3)
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    _lost_worker(job)
    assert whatif.whatif_sweep() == 1
    job.refresh_from_db()
    assert job.status == "queued"
    job = whatif.whatif_run(job_id=job.pk)
    assert (job.status, job.done, job.changed, job.attempts) == ("done", 3, 2, 2)


def test_the_sweep_fails_a_job_that_lost_its_worker_too_often(project, episodes):
    job = whatif.whatif_create(project=project, actor="alice", source=LIMIT_1)
    _lost_worker(job, attempts=whatif.MAX_ATTEMPTS)
    assert whatif.whatif_sweep() == 0
    job.refresh_from_db()
    assert job.status == "failed" and "lost" in job.error
