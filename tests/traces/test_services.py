import pytest
from django.db import transaction

from apps.traces import schema, services, signals
from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db


def _steps(n, start=0, agent="planner"):
    return [
        {"index": start + i, "kind": "action", "agent": agent, "tool": f"tool_{i % 3}", "arguments": {"i": i}}
        for i in range(n)
    ]


def test_upsert_with_the_same_external_id_returns_the_same_episode(project):
    first, created = services.episode_upsert(project=project, external_id="run-1", title="A")
    again, created_again = services.episode_upsert(project=project, external_id="run-1")
    assert created and not created_again
    assert first.pk == again.pk
    assert Episode.objects.filter(project=project).count() == 1


def test_upsert_merges_agents_on_resume(project):
    services.episode_upsert(project=project, external_id="run-1", agents=["a"])
    episode, _ = services.episode_upsert(project=project, external_id="run-1", agents=["b", "a"])
    assert episode.agents == ["a", "b"]


def test_same_external_id_in_two_projects_makes_two_episodes(project, other_project):
    a, _ = services.episode_upsert(project=project, external_id="run-1")
    b, _ = services.episode_upsert(project=other_project, external_id="run-1")
    assert a.pk != b.pk


def test_step_append_without_index_takes_the_next_free_index(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.steps_append_batch(episode=episode, steps=_steps(3))
    step = services.step_append(episode=episode, kind="decision", actor="governance", agent="planner",
                                tool="send", attributes={"verdict": "allow"})
    assert step.index == 3
    episode.refresh_from_db()
    assert episode.step_count == 4


def test_server_written_step_updates_tool_and_agent_summaries_and_is_stored_whole(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    step = services.step_append(episode=episode, kind="decision", actor="governance", agent="planner",
                                tool="send_money", arguments={"amount": 5}, result={"verdict": "block"},
                                attributes={"verdict": "block"})
    episode.refresh_from_db()
    assert (episode.tools, episode.agents) == (["send_money"], ["planner"])
    stored = Step.objects.get(pk=step.id)
    assert (stored.arguments, stored.result, stored.attributes) == ({"amount": 5}, {"verdict": "block"},
                                                                    {"verdict": "block"})
    assert stored.digest == step.digest


def test_resending_a_server_written_step_at_its_index_is_harmless(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    first = services.step_append(episode=episode, kind="message", content="hi")
    again = services.step_append(episode=episode, kind="message", index=first.index, content="hi")
    assert again.id == first.id and again.created is False


def test_step_append_with_same_index_and_content_returns_the_existing_step(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    first = services.step_append(episode=episode, kind="message", index=0, content="hi")
    again = services.step_append(episode=episode, kind="message", index=0, content="hi")
    assert again.pk == first.pk
    assert Step.objects.filter(episode=episode).count() == 1


def test_step_append_with_same_index_and_other_content_raises_conflict_naming_the_index(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.step_append(episode=episode, kind="message", index=7, content="hi")
    with pytest.raises(services.StepConflict) as exc:
        services.step_append(episode=episode, kind="message", index=7, content="bye")
    assert exc.value.index == 7


def test_resending_a_batch_writes_nothing_new(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.steps_append_batch(episode=episode, steps=_steps(300))
    services.steps_append_batch(episode=episode, steps=_steps(300))
    assert Step.objects.filter(episode=episode).count() == 300


def test_a_batch_with_one_conflicting_step_writes_none_of_its_steps(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.steps_append_batch(episode=episode, steps=_steps(2))
    batch = _steps(5)
    batch[1]["arguments"] = {"changed": True}
    with pytest.raises(services.StepConflict) as exc:
        services.steps_append_batch(episode=episode, steps=batch)
    assert exc.value.index == 1
    assert Step.objects.filter(episode=episode).count() == 2


def test_a_batch_with_one_invalid_step_writes_none_of_its_steps(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    batch = _steps(5)
    batch[3]["kind"] = "dance"
    with pytest.raises(schema.InvalidInput) as exc:
        services.steps_append_batch(episode=episode, steps=batch)
    assert exc.value.field == "steps[3].kind"
    assert not Step.objects.filter(episode=episode).exists()


def test_large_batches_are_written_and_summarised(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.steps_append_batch(episode=episode, steps=_steps(1000))
    episode.refresh_from_db()
    assert Step.objects.filter(episode=episode).count() == 1000
    assert episode.step_count == 1000
    assert sorted(episode.tools) == ["tool_0", "tool_1", "tool_2"]
    assert episode.agents == ["planner"]


def test_steps_appended_is_sent_inside_the_batch_transaction(project):
    seen = []

    def receiver(sender, episode, first_index, count, **kwargs):
        seen.append((first_index, count, transaction.get_connection().in_atomic_block))

    signals.steps_appended.connect(receiver)
    try:
        episode, _ = services.episode_upsert(project=project, external_id="e")
        services.steps_append_batch(episode=episode, steps=_steps(4, start=2))
    finally:
        signals.steps_appended.disconnect(receiver)
    assert seen == [(2, 4, True)]  # so what a receiver records commits or rolls back with the steps


def test_a_failing_steps_appended_receiver_fails_the_batch_and_writes_nothing(project):
    def receiver(sender, **kwargs):
        raise RuntimeError("could not record the checks")

    signals.steps_appended.connect(receiver)
    try:
        episode, _ = services.episode_upsert(project=project, external_id="e")
        with pytest.raises(RuntimeError):
            services.steps_append_batch(episode=episode, steps=_steps(4))
    finally:
        signals.steps_appended.disconnect(receiver)
    episode.refresh_from_db()
    assert (episode.step_count, Step.objects.filter(episode=episode).count()) == (0, 0)


def test_steps_appended_fires_once_per_committed_batch(project, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, episode, first_index, count, **kwargs):
        received.append((first_index, count))

    signals.steps_appended.connect(receiver)
    try:
        episode, _ = services.episode_upsert(project=project, external_id="e")
        with django_capture_on_commit_callbacks(execute=True):
            services.steps_append_batch(episode=episode, steps=_steps(4, start=2))
        with django_capture_on_commit_callbacks(execute=True):
            services.steps_append_batch(episode=episode, steps=_steps(4, start=2))
    finally:
        signals.steps_appended.disconnect(receiver)
    assert received == [(2, 4)]


def test_episode_end_sets_status_outcome_and_sends_episode_ended(project, django_capture_on_commit_callbacks):
    ended = []
    signals.episode_ended.connect(lambda sender, episode, **kw: ended.append(episode.pk), weak=False,
                                  dispatch_uid="t-end")
    try:
        episode, _ = services.episode_upsert(project=project, external_id="e")
        with django_capture_on_commit_callbacks(execute=True):
            services.episode_end(episode=episode, status="completed", outcome={"success": True})
    finally:
        signals.episode_ended.disconnect(dispatch_uid="t-end")
    episode.refresh_from_db()
    assert (episode.status, episode.outcome["success"], ended) == ("completed", True, [episode.pk])
    assert episode.ended_at is not None


def test_a_terminated_episode_stays_terminated_when_the_runtime_ends_it(project):
    episode, _ = services.episode_upsert(project=project, external_id="e")
    services.episode_end(episode=episode, status="terminated", outcome={"termination_reason": "contract"})
    episode = services.episode_end(episode=episode, status="completed", outcome={"success": False})
    assert episode.status == "terminated"
    assert episode.outcome == {"termination_reason": "contract", "success": False}


def test_digest_is_the_same_for_equal_times_written_differently():
    a = schema.step_normalize({"index": 0, "kind": "message", "started_at": "2026-01-01T10:00:00Z", "cost": 0.1})
    b = schema.step_normalize({"index": 0, "kind": "message", "started_at": "2026-01-01T11:00:00+01:00",
                               "cost": "0.100000"})
    assert schema.step_digest(a) == schema.step_digest(b)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_without_indexes_get_distinct_contiguous_indexes(project):
    import threading

    from django.db import connection

    episode, _ = services.episode_upsert(project=project, external_id="busy")
    errors = []

    def writer(n):
        try:
            for _ in range(5):
                services.steps_append_batch(episode=Episode.objects.get(pk=episode.pk), steps=[
                    {"kind": "message", "agent": f"w{n}", "content": f"hello {i}"} for i in range(20)
                ])
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    indexes = sorted(Step.objects.filter(episode=episode).values_list("index", flat=True))
    assert indexes == list(range(400))
    episode.refresh_from_db()
    assert episode.step_count == 400
