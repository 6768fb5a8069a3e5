"""The steps_appended receiver enqueues a check only when there is work for it."""

import pytest

from apps.contracts import tasks
from apps.traces import services as traces

pytestmark = pytest.mark.django_db

RUNTIME_CONTRACT = """
name: live
runtime: true
rules:
  - never: {tool: rm_rf}
"""


@pytest.fixture
def enqueued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.episode_steps_task, "delay", lambda *args: sent.append(args))
    return sent


def _decision(episode, verdict):
    return traces.step_append(episode=episode, kind="decision", actor="governance", agent="a", tool="t",
                              attributes={"verdict": verdict})


def test_routine_allow_without_runtime_contracts_enqueues_nothing(project, enqueued,
                                                                   django_capture_on_commit_callbacks):
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        _decision(episode, "allow")
    assert enqueued == []


def test_blocked_decision_is_enqueued_for_a_violation(project, enqueued, django_capture_on_commit_callbacks):
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        step = _decision(episode, "block")
    assert enqueued == [(episode.pk, step.index)]


def test_any_step_is_enqueued_when_the_project_checks_runtime_contracts(project, enqueued,
                                                                         django_capture_on_commit_callbacks):
    from apps.contracts.services import contract_publish

    contract_publish(project=project, source=RUNTIME_CONTRACT, actor="t")
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        step = traces.step_append(episode=episode, kind="message", content="hello")
    assert enqueued == [(episode.pk, step.index)]
