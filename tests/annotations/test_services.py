"""Grades in the governance log: each grade given, changed and removed appends its entry, in the
same transaction as the write (a refused grade logs nothing)."""

import pytest
from django.core.exceptions import ValidationError

from apps.annotations import services
from apps.annotations.models import Annotation
from apps.audit.models import GovernanceLogEntry
from apps.audit.verification import governance_verify
from apps.core.events import LogEvent
from apps.traces import services as traces

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode, _ = traces.episode_upsert(project=project, external_id="ep-g")
    traces.steps_append_batch(episode=episode, steps=[{"kind": "message", "content": f"m{i}"} for i in range(3)])
    return episode


def _entries(project, event):
    return list(GovernanceLogEntry.objects.filter(project=project, event=event).order_by("seq"))


def _grade(project, episode, reviewer, **fields):
    fields = {"name": "correctness", "value": 0.5, **fields}
    return services.annotation_create(project=project, episode=episode, author=reviewer, source=reviewer.username,
                                      **fields)


def test_a_grade_given_is_logged_with_what_it_grades_and_says(project, episode, reviewer):
    grade = _grade(project, episode, reviewer, step_index=2, label="partial", comment="missed the fee")
    [entry] = _entries(project, LogEvent.ANNOTATION_CREATED)
    assert entry.actor == "rita"
    assert entry.data == {"annotation": grade.pk, "episode": "ep-g", "step": 2, "name": "correctness", "value": 0.5,
                          "label": "partial", "comment": "missed the fee", "queue": None}


def test_an_api_keys_grade_is_logged_under_the_keys_name(project, episode):
    services.annotation_create(project=project, episode=episode, name="toxicity", value=0.1, source="key:grader")
    assert _entries(project, LogEvent.ANNOTATION_CREATED)[0].actor == "key:grader"


def test_a_refused_grade_logs_nothing(project, episode, reviewer):
    with pytest.raises(ValidationError):
        _grade(project, episode, reviewer, value=None)
    assert _entries(project, LogEvent.ANNOTATION_CREATED) == []


def test_a_changed_grade_is_logged_with_what_changed(project, episode, reviewer):
    grade = _grade(project, episode, reviewer)
    services.annotation_update(annotation=grade, actor=reviewer, value=0.9, comment="on reflection, fine")
    [entry] = _entries(project, LogEvent.ANNOTATION_UPDATED)
    assert entry.actor == "rita"
    assert entry.data["changed"] == {"value": {"from": 0.5, "to": 0.9},
                                     "comment": {"from": None, "to": "on reflection, fine"}}
    assert (entry.data["annotation"], entry.data["value"]) == (grade.pk, 0.9)


def test_a_change_that_changes_nothing_is_not_logged(project, episode, reviewer):
    grade = _grade(project, episode, reviewer)
    services.annotation_update(annotation=grade, actor=reviewer, value=0.5)
    assert _entries(project, LogEvent.ANNOTATION_UPDATED) == []


def test_a_change_leaving_neither_score_nor_label_is_refused_and_not_logged(project, episode, reviewer):
    grade = _grade(project, episode, reviewer)
    with pytest.raises(ValidationError) as caught:
        services.annotation_update(annotation=grade, actor=reviewer, value=None)
    assert "value" in caught.value.message_dict
    assert Annotation.objects.get().value == 0.5
    assert _entries(project, LogEvent.ANNOTATION_UPDATED) == []


def test_a_removed_grade_is_logged_with_what_it_said(project, episode, reviewer, admin):
    grade = _grade(project, episode, reviewer, label="wrong")
    services.annotation_delete(annotation=grade, actor=admin)
    assert not Annotation.objects.exists()
    [entry] = _entries(project, LogEvent.ANNOTATION_DELETED)
    assert entry.actor == "alice"
    assert (entry.data["annotation"], entry.data["value"], entry.data["label"]) == (grade.pk, 0.5, "wrong")


def test_removing_a_grade_twice_logs_it_once(project, episode, reviewer):
    grade = _grade(project, episode, reviewer)
    services.annotation_delete(annotation=grade, actor=reviewer)
    services.annotation_delete(annotation=grade, actor=reviewer)
    assert len(_entries(project, LogEvent.ANNOTATION_DELETED)) == 1


def test_the_log_chain_still_verifies_after_grading(project, episode, reviewer):
    grade = _grade(project, episode, reviewer)
    services.annotation_update(annotation=grade, actor=reviewer, label="ok")
    services.annotation_delete(annotation=grade, actor=reviewer)
    report = governance_verify(project=project)
    assert report.ok and report.checked == 3
