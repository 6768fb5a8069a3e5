"""The steps_appended receiver promises a check only when there is work for it, whether it asks the
database itself or /decide answered its work condition with the decision's context."""

import pytest
from celery.signals import task_prerun

from apps.core.models import TaskOutbox
from apps.reviews import tasks
from apps.traces import services as traces

pytestmark = pytest.mark.django_db

RUNTIME_CONTRACT = """
name: live
runtime: true
rules:
  - never: {tool: rm_rf}
"""


@pytest.fixture
def enqueued():
    """The steps checks promised so far: outbox rows still waiting (this test's transaction never
    commits) and those that ran once their on-commit callbacks were executed."""
    ran = []

    def record(sender=None, args=(), **kwargs) -> None:
        if sender.name == tasks.episode_steps_task.name:
            ran.append(tuple(args))

    task_prerun.connect(record, weak=False, dispatch_uid="test-steps-ran")

    def promised() -> list[tuple]:
        waiting = [tuple(r.args) for r in TaskOutbox.objects.filter(task=tasks.episode_steps_task.name)]
        return ran + waiting

    yield promised
    task_prerun.disconnect(dispatch_uid="test-steps-ran")


def _decision(episode, verdict):
    return traces.step_append(episode=episode, kind="decision", actor="governance", agent="a", tool="t",
                              attributes={"verdict": verdict})


def test_routine_allow_without_runtime_contracts_enqueues_nothing(project, enqueued,
                                                                   django_capture_on_commit_callbacks):
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        _decision(episode, "allow")
    assert enqueued() == []


def test_blocked_decision_is_enqueued_for_a_violation(project, enqueued, django_capture_on_commit_callbacks):
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        step = _decision(episode, "block")
    assert enqueued() == [(episode.pk, step.index)]


def test_any_step_is_enqueued_when_the_project_checks_runtime_contracts(project, enqueued,
                                                                         django_capture_on_commit_callbacks):
    from apps.contracts.services import contract_publish

    contract_publish(project=project, source=RUNTIME_CONTRACT, actor="t")
    episode, _ = traces.episode_upsert(project=project, external_id="e")
    with django_capture_on_commit_callbacks(execute=True):
        step = traces.step_append(episode=episode, kind="message", content="hello")
    assert enqueued() == [(episode.pk, step.index)]


ALLOW_READS = """
name: reads
default: block
rules:
  - {id: reads, tool: "read_*", effect: allow}
"""


def _routine_allow(project, admin):
    """Two allows: the first under a version takes the transactional write, the second the one-statement
    write, whose context statement answers the registered work conditions."""
    from apps.policies.decisions import decision_make
    from apps.policies.records import DecideInput
    from apps.policies.services import policy_publish

    policy_publish(project=project, source=ALLOW_READS, actor=admin)
    call = DecideInput(episode="e", agent="a", tool="read_x", arguments={})
    decision_make(project=project, data=call, actor="t")
    return decision_make(project=project, data=call, actor="t")


def test_a_routine_decide_enqueues_nothing_without_runtime_contracts(project, admin, enqueued,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        decision = _routine_allow(project, admin)
    assert (decision.verdict, decision.step_index) == ("allow", 1)
    assert enqueued() == []


def test_a_routine_decide_enqueues_its_step_when_the_project_checks_runtime_contracts(
        project, admin, enqueued, django_capture_on_commit_callbacks):
    from apps.contracts.services import contract_publish

    contract_publish(project=project, source=RUNTIME_CONTRACT, actor="t")
    with django_capture_on_commit_callbacks(execute=True):
        decision = _routine_allow(project, admin)
    assert (decision.verdict, decision.step_index) == ("allow", 1)
    assert (decision.episode_id, 1) in enqueued()
