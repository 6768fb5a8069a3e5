"""Publishing contracts, checking episodes when they end, and runtime checks stopping live episodes."""

import pytest

from apps.audit.models import GovernanceLogEntry
from apps.contracts import services
from apps.contracts.models import ContractVersion, RuntimeState, Verdict
from apps.reviews.models import Violation
from apps.traces import services as traces
from tests.contracts.builders import FLOW, NO_DELETE, ingest, publish
from tests.contracts.trace_builders import BENIGN, INJECTION, act, say, steps, user

pytestmark = pytest.mark.django_db


def test_publishing_creates_a_numbered_version_and_logs_it(project):
    version = publish(project, NO_DELETE)
    assert (version.number, version.severity, version.runtime) == (1, "high", False)
    entry = GovernanceLogEntry.objects.get(project=project, event="contract.published")
    assert entry.data["digest"] == version.digest and entry.data["contract"] == "no-deletes"


def test_publishing_the_same_content_again_changes_nothing(project):
    first = publish(project, NO_DELETE)
    again, changed = services.contract_publish(project=project, source=NO_DELETE + "# comment\n", actor="alice")
    assert (again.pk, changed) == (first.pk, False)
    assert GovernanceLogEntry.objects.filter(event="contract.published").count() == 1


def test_new_content_gets_the_next_number_and_becomes_current(project):
    publish(project, NO_DELETE)
    v2 = publish(project, NO_DELETE.replace("high", "low"))
    assert v2.number == 2 and v2.contract.in_force_id == v2.pk
    assert ContractVersion.objects.filter(contract=v2.contract).count() == 2


def test_republishing_older_content_makes_that_version_current_again(project):
    v1 = publish(project, NO_DELETE)
    publish(project, NO_DELETE.replace("high", "low"))
    again = publish(project, NO_DELETE)
    assert again.pk == v1.pk
    again.contract.refresh_from_db()
    assert again.contract.in_force_id == v1.pk


def test_an_invalid_contract_is_refused_naming_field_and_line(project):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        services.contract_publish(project=project, source="name: x\nrules:\n  - never: {tol: a}\n", actor="a")
    assert "rules[0].never.tol" in str(info.value) and "line 3" in str(info.value)
    assert not ContractVersion.objects.exists()


def test_an_ended_episode_is_checked_and_its_verdict_stored(project, django_capture_on_commit_callbacks):
    publish(project, NO_DELETE)
    with django_capture_on_commit_callbacks(execute=True):
        episode = ingest(project, "ep-1", [user("clean"), act("list"), act("delete_file", path="x"), say("ok")],
                         end="completed")
    verdict = Verdict.objects.get(episode=episode)
    assert (verdict.status, verdict.first_violating_step, verdict.steps_checked) == ("fail", 2, 4)
    assert verdict.evidence[0]["steps"] == [2]


def test_a_failed_verdict_opens_one_violation_and_counts_it_on_the_episode(project, django_capture_on_commit_callbacks):
    publish(project, NO_DELETE)
    with django_capture_on_commit_callbacks(execute=True):
        episode = ingest(project, "ep-1", [act("delete_file")], end="completed")
    services.episode_check(episode=episode)  # checking twice must not duplicate
    violation = Violation.objects.get(episode=episode)
    assert (violation.source, violation.name, violation.severity, violation.first_step_index) == (
        "contract", "no-deletes", "high", 0)
    episode.refresh_from_db()
    assert episode.violation_count == 1


def test_checking_is_idempotent(project):
    publish(project, NO_DELETE)
    episode = ingest(project, "ep-1", [act("delete_file"), say("done")], end="completed")
    first = [(v.status, v.first_violating_step) for v in services.episode_check(episode=episode)]
    second = [(v.status, v.first_violating_step) for v in services.episode_check(episode=episode)]
    assert first == second == [("fail", 0)]
    assert Verdict.objects.count() == 1 and Violation.objects.count() == 1


def test_a_passing_episode_opens_no_violation(project):
    publish(project, NO_DELETE)
    episode = ingest(project, "ep-1", [act("list"), say("done")], end="completed")
    assert [v.status for v in services.episode_check(episode=episode)] == ["pass"]
    assert not Violation.objects.exists()


def test_disabled_contracts_are_not_checked(project, admin):
    version = publish(project, NO_DELETE)
    services.contract_set_enabled(contract=version.contract, enabled=False, actor="alice")
    episode = ingest(project, "ep-1", [act("delete_file")], end="completed")
    assert services.episode_check(episode=episode) == []


def test_a_runtime_contract_terminates_a_live_injection_episode(project, django_capture_on_commit_callbacks):
    publish(project, FLOW)
    with django_capture_on_commit_callbacks(execute=True):
        episode, _ = traces.episode_upsert(project=project, external_id="live")
        batch = steps(*INJECTION)
        traces.steps_append_batch(episode=episode, steps=batch[:3])
    episode.refresh_from_db()
    assert episode.status == "running"
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=batch[3:5])
    episode.refresh_from_db()
    assert episode.status == "terminated"
    assert "failed at step 4" in episode.outcome["termination_reason"]
    verdict = Verdict.objects.get(episode=episode)
    assert (verdict.status, verdict.first_violating_step, verdict.evidence[0]["steps"]) == ("fail", 4, [2, 4])
    violation = Violation.objects.get(episode=episode)
    assert violation.severity == "critical" and violation.evidence["contained"] is True


def test_runtime_checks_read_each_step_once(project, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(services, "PERSIST_EVERY", 1)
    publish(project, FLOW)
    batch = steps(*BENIGN)
    episode, _ = traces.episode_upsert(project=project, external_id="live")
    for i in range(0, len(batch), 2):
        with django_capture_on_commit_callbacks(execute=True):
            traces.steps_append_batch(episode=episode, steps=batch[i:i + 2])
    state = RuntimeState.objects.get(episode=episode)
    assert state.next_index == len(batch) and state.state["n"] == len(batch)
    episode.refresh_from_db()
    assert episode.status == "running"


def test_every_runtime_contract_advances_over_the_same_new_steps(project, django_capture_on_commit_callbacks,
                                                                 monkeypatch):
    monkeypatch.setattr(services, "PERSIST_EVERY", 1)
    publish(project, FLOW)
    publish(project, "name: short\nruntime: true\nrules:\n  - termination: {max_steps: 100}\n")
    batch = steps(*BENIGN)
    episode, _ = traces.episode_upsert(project=project, external_id="live")
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=batch[:4])
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=batch[4:])
    assert sorted(RuntimeState.objects.filter(episode=episode).values_list("next_index", flat=True)) == [6, 6]
    assert [s["n"] for s in RuntimeState.objects.filter(episode=episode).values_list("state", flat=True)] == [6, 6]


def test_runtime_checks_wait_for_a_gap_in_the_indexes_to_fill(project, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    monkeypatch.setattr(services, "PERSIST_EVERY", 1)
    publish(project, FLOW)
    batch = steps(*INJECTION)
    episode, _ = traces.episode_upsert(project=project, external_id="live")
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=[batch[0], batch[1], batch[4]])
    assert RuntimeState.objects.get(episode=episode).next_index == 2
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=[batch[2], batch[3]])
    episode.refresh_from_db()
    assert episode.status == "terminated"


def test_a_worker_without_the_live_state_in_memory_resumes_from_the_stored_snapshot(
        project, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(services, "PERSIST_EVERY", 2)
    publish(project, FLOW)
    batch = steps(*INJECTION)
    episode, _ = traces.episode_upsert(project=project, external_id="live")
    for i in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            traces.steps_append_batch(episode=episode, steps=[batch[i]])
    assert RuntimeState.objects.get(episode=episode).next_index == 4  # snapshots at 2 and 4
    services._LIVE.clear()  # the next batch lands on another worker process
    with django_capture_on_commit_callbacks(execute=True):
        traces.steps_append_batch(episode=episode, steps=[batch[4]])
    episode.refresh_from_db()
    assert episode.status == "terminated"
    assert Verdict.objects.get(episode=episode).first_violating_step == 4


def test_a_runtime_failure_is_rechecked_at_the_end_without_a_second_violation(project, django_capture_on_commit_callbacks):
    publish(project, FLOW)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(project, "live", list(INJECTION))
    assert Violation.objects.count() == 1
    assert Verdict.objects.get().status == "fail"


def test_episodes_of_another_project_are_not_checked_against_this_projects_contracts(project, other_project):
    publish(project, NO_DELETE)
    episode = ingest(other_project, "ep-1", [act("delete_file")], end="completed")
    assert services.episode_check(episode=episode) == []


def test_the_catch_up_command_checks_only_ended_episodes_missing_a_verdict(project):
    from io import StringIO

    from django.core.management import call_command

    publish(project, NO_DELETE)
    done = ingest(project, "done", [act("delete_file")], end="completed")
    services.episode_check(episode=done)
    ingest(project, "missed", [act("delete_file")], end="completed")
    ingest(project, "live", [act("delete_file")])
    out = StringIO()
    call_command("contracts_check", "--missing", stdout=out)
    assert "checked 1 episodes, 1 with failed verdicts" in out.getvalue()
    assert set(Verdict.objects.values_list("episode__external_id", flat=True)) == {"done", "missed"}


def test_a_broker_outage_does_not_fail_the_ingestion_that_triggered_it(project, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from apps.contracts import tasks
    from apps.reviews import tasks as review_tasks

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(review_tasks.episode_steps_task, "delay", down)
    monkeypatch.setattr(tasks.episode_check_task, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        episode = ingest(project, "ep", [act("x")], end="completed")
    assert episode.step_count == 1 and episode.status == "completed"


def test_the_demo_contracts_compile_and_publish_idempotently(project):
    from apps.demo.contracts import demo_contracts_publish

    first = demo_contracts_publish(project=project)
    again = demo_contracts_publish(project=project)
    assert [v.pk for v in first] == [v.pk for v in again] and len(first) == 4
