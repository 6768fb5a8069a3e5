"""A routine /decide promises the checks its step calls for in its own one-statement write."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import TaskOutbox
from apps.policies import sql
from apps.policies.models import Decision
from apps.reviews.models import Violation
from apps.traces import signals
from apps.traces.models import Episode
from workers.celery_app import app

pytestmark = pytest.mark.django_db

STEPS_TASK = "apps.reviews.tasks.episode_steps_task"


class Crash(BaseException):
    """The web process dying: nothing after this point runs."""


@pytest.fixture
def crash_after_the_decision(monkeypatch):
    """The process dies the moment the decision's statement has committed."""
    write = sql.decision_write

    def write_then_die(**kwargs):
        write(**kwargs)
        raise Crash

    monkeypatch.setattr(sql, "decision_write", write_then_die)


def test_a_block_keeps_its_violation_check_when_the_process_dies_right_after_deciding(
        bank_policy, decide, crash_after_the_decision):
    decide("read_balance")  # the episode and its policy version exist: the next decision is routine
    with pytest.raises(Crash):
        decide("send_money", {"recipient": "FR9", "amount": 5})
    block = Decision.objects.get(verdict="block")
    promised = TaskOutbox.objects.get()
    assert (promised.task, promised.args) == (STEPS_TASK, [block.episode_id, block.step_index])


def test_the_sweep_then_records_the_blocks_violation(bank_policy, decide, crash_after_the_decision, settings):
    from apps.core.outbox import outbox_sweep

    decide("read_balance")
    with pytest.raises(Crash):
        decide("send_money", {"recipient": "FR9", "amount": 5})
    TaskOutbox.objects.update(due_at="2000-01-01T00:00:00Z")
    assert outbox_sweep() == 1  # eager here: the task runs and deletes its row
    assert Violation.objects.filter(first_step_index=Decision.objects.get(verdict="block").step_index).exists()
    assert not TaskOutbox.objects.exists()


def test_a_routine_block_and_its_promised_check_cost_two_statements(bank_policy, decide, monkeypatch):
    monkeypatch.setattr("apps.core.outbox.task_publish", lambda **kwargs: True)  # the broker: not measured here
    decide("read_balance")
    with CaptureQueriesContext(connection) as queries:
        assert decide("send_money", {"recipient": "FR9", "amount": 5}).json()["verdict"] == "block"
    assert len(queries.captured_queries) == 2, [q["sql"][:80] for q in queries.captured_queries]
    assert TaskOutbox.objects.filter(task=STEPS_TASK).count() == 1


def test_a_routine_allow_promises_nothing_without_runtime_contracts(bank_policy, decide, monkeypatch):
    monkeypatch.setattr("apps.core.outbox.task_publish", lambda **kwargs: True)
    decide("read_balance")
    decide("read_balance")
    assert not TaskOutbox.objects.exists()
    assert Episode.objects.get().step_count == 2


def test_the_promised_task_is_published_after_commit_and_records_the_violation(
        bank_policy, decide, django_capture_on_commit_callbacks):
    decide("read_balance")
    with django_capture_on_commit_callbacks(execute=True):
        body = decide("send_money", {"recipient": "FR9", "amount": 5}).json()
    assert Violation.objects.filter(first_step_index=body["step_index"]).count() == 1
    assert not TaskOutbox.objects.exists()  # the task succeeded and deleted its row


def test_every_registered_work_task_is_a_celery_task():
    app.loader.import_default_modules()
    assert STEPS_TASK in signals.steps_work_tasks()
    assert set(signals.steps_work_tasks()) <= set(app.tasks)
