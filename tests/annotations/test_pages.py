"""Grading from the browser: grades on the replay, queues, the export of grades."""

import csv
import io
import json

import pytest

from apps.annotations.models import Annotation, AnnotationQueue, QueueItem
from apps.traces import services as traces

pytestmark = pytest.mark.django_db


def _episode(project, external_id="ep-1", steps=3, **fields):
    episode, _ = traces.episode_upsert(project=project, external_id=external_id, **fields)
    traces.steps_append_batch(episode=episode, steps=[{"kind": "message", "content": f"m{i}"} for i in range(steps)])
    return episode


def test_a_reviewer_grades_an_episode_and_a_step_from_the_replay(login, reviewer, project):
    episode = _episode(project)
    client = login(reviewer)
    response = client.post(f"/p/acme/annotations/e/{episode.pk}/grade",
                           {"name": "correctness", "value": "0.5", "comment": "half right"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.content.decode()
    client.post(f"/p/acme/annotations/e/{episode.pk}/grade", {"name": "hijacked", "label": "yes", "step_index": "2"})
    grades = list(Annotation.objects.values_list("name", "value", "label", "step_index", "source"))
    assert grades == [("correctness", 0.5, "", None, "rita"), ("hijacked", None, "yes", 2, "rita")]
    body = client.get(f"/p/acme/traces/e/{episode.pk}/").content.decode()
    assert 'data-testid="grades"' in body and "half right" in body and "step #2" in body


@pytest.mark.parametrize(("data", "field"), [({"name": "", "value": "1"}, "name"), ({"name": "x"}, "value"),
                                             ({"name": "x", "value": "1", "step_index": "9"}, "step_index"),
                                             ({"name": "x", "value": "abc"}, "value")])
def test_a_bad_grade_is_a_400_naming_the_field(login, reviewer, project, data, field):
    episode = _episode(project)
    response = login(reviewer).post(f"/p/acme/annotations/e/{episode.pk}/grade", data, headers={"HX-Request": "true"})
    assert response.status_code == 400 and field in response.content.decode()
    assert not Annotation.objects.exists()


def test_a_viewer_cannot_grade(login, viewer, project):
    episode = _episode(project)
    assert login(viewer).post(f"/p/acme/annotations/e/{episode.pk}/grade", {"name": "x", "value": "1"}).status_code == 403


def test_an_outsider_cannot_grade_another_projects_episode(login, outsider, project):
    episode = _episode(project)
    assert login(outsider).post(f"/p/globex/annotations/e/{episode.pk}/grade", {"name": "x", "value": "1"}).status_code == 404


def test_a_queue_takes_the_episodes_a_filter_matches_and_walks_through_them(login, reviewer, project):
    second = _episode(project, "a", agents=["banker"])
    first = _episode(project, "b", agents=["banker"])  # the queue keeps the list's order: newest first
    _episode(project, "c", agents=["clerk"])
    client = login(reviewer)
    response = client.post("/p/acme/annotations/queues/", {"name": "Bankers", "names": "correctness, hijacked",
                                                            "query": "agent=banker"})
    queue = AnnotationQueue.objects.get()
    assert response.status_code == 302 and queue.names == ["correctness", "hijacked"]
    assert set(QueueItem.objects.values_list("episode_id", flat=True)) == {first.pk, second.pk}
    opened = client.get(f"/p/acme/annotations/queues/{queue.pk}/next")
    assert opened.url == f"/p/acme/traces/e/{first.pk}/?queue={queue.pk}#grades"
    page = client.get(f"/p/acme/traces/e/{first.pk}/", {"queue": queue.pk}).content.decode()
    assert 'data-testid="queue-done"' in page and 'value="correctness"' in page
    done = client.post(f"/p/acme/annotations/queues/{queue.pk}/done/{first.pk}")
    assert client.get(done.url).url == f"/p/acme/traces/e/{second.pk}/?queue={queue.pk}#grades"
    assert "1 of 2 graded" in client.get(f"/p/acme/annotations/queues/{queue.pk}/").content.decode()


def test_a_queue_name_is_unique_in_a_project(login, reviewer, project):
    client = login(reviewer)
    client.post("/p/acme/annotations/queues/", {"name": "Q"})
    client.post("/p/acme/annotations/queues/", {"name": "Q"})
    assert AnnotationQueue.objects.count() == 1


def test_grades_export_as_csv_and_json(login, reviewer, viewer, project):
    episode = _episode(project)
    login(reviewer).post(f"/p/acme/annotations/e/{episode.pk}/grade", {"name": "correctness", "value": "1", "label": "good"})
    client = login(viewer)
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get("/p/acme/annotations/export.csv").streaming_content).decode())))
    assert [(r["episode"], r["name"], r["value"], r["label"], r["source"]) for r in rows] == [
        ("ep-1", "correctness", "1.0", "good", "rita")]
    data = json.loads(b"".join(client.get("/p/acme/annotations/export.json").streaming_content))
    assert data[0]["name"] == "correctness" and data[0]["value"] == 1.0


def test_the_export_holds_only_this_projects_grades(login, outsider, reviewer, project, other_project):
    episode = _episode(project)
    login(reviewer).post(f"/p/acme/annotations/e/{episode.pk}/grade", {"name": "secret", "value": "1"})
    body = b"".join(login(outsider).get("/p/globex/annotations/export.json").streaming_content)
    assert json.loads(body) == []


def test_a_reviewer_removes_their_own_grade_from_the_replay_and_the_log_keeps_it(login, reviewer, project):
    from apps.audit.models import GovernanceLogEntry

    episode = _episode(project)
    client = login(reviewer)
    client.post(f"/p/acme/annotations/e/{episode.pk}/grade", {"name": "correctness", "value": "0.5"})
    grade = Annotation.objects.get()
    body = client.get(f"/p/acme/traces/e/{episode.pk}/").content.decode()
    assert 'data-testid="grade-remove"' in body
    response = client.post(f"/p/acme/annotations/e/{episode.pk}/grades/{grade.pk}/remove",
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "No grades yet." in response.content.decode()
    assert list(GovernanceLogEntry.objects.filter(project=project, event__startswith="annotation.")
                .order_by("seq").values_list("event", "actor")) == [("annotation.created", "rita"),
                                                                    ("annotation.deleted", "rita")]


def test_a_reviewer_cannot_remove_anothers_grade_but_an_admin_can(login, reviewer, admin, project):
    from apps.annotations import services

    episode = _episode(project)
    grade = services.annotation_create(project=project, episode=episode, name="x", value=1, source="key:grader")
    url = f"/p/acme/annotations/e/{episode.pk}/grades/{grade.pk}/remove"
    assert 'data-testid="grade-remove"' not in login(reviewer).get(f"/p/acme/traces/e/{episode.pk}/").content.decode()
    assert login(reviewer).post(url).status_code == 403
    assert Annotation.objects.exists()
    assert login(admin).post(url).status_code == 302
    assert not Annotation.objects.exists()
