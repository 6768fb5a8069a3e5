"""The grades API: an `annotate` key grades, `read` lists and exports, another project sees nothing."""

import pytest

from apps.traces import services as traces

pytestmark = pytest.mark.django_db


@pytest.fixture
def episode(project):
    episode, _ = traces.episode_upsert(project=project, external_id="run-1")
    traces.steps_append_batch(episode=episode, steps=[{"kind": "message", "content": "hi"}] * 2)
    return episode


def test_an_annotate_key_grades_a_step(api, make_key, project, episode):
    response = api(make_key(project, scopes=["annotate"])).post(
        "/api/v1/annotations", {"episode": "run-1", "step_index": 1, "name": "toxicity", "value": 0.1}, format="json")
    assert response.status_code == 201
    assert (response.json()["step_index"], response.json()["source"]) == (1, "key:test")


def test_a_read_key_cannot_grade_but_lists_and_exports(api, make_key, project, episode):
    api(make_key(project, scopes=["annotate"])).post("/api/v1/annotations", {"episode": "run-1", "name": "ok", "label": "y"},
                                                     format="json")
    reader = api(make_key(project, scopes=["read"]))
    assert reader.post("/api/v1/annotations", {"episode": "run-1", "name": "x", "value": 1}, format="json").status_code == 403
    assert [r["label"] for r in reader.get("/api/v1/annotations").json()["results"]] == ["y"]
    csv_body = b"".join(reader.get("/api/v1/annotations/export?as=csv").streaming_content).decode()
    assert csv_body.splitlines()[0].startswith("episode,episode_id,step_index,name")


@pytest.mark.parametrize(("body", "field"), [({"episode": "nope", "name": "x", "value": 1}, "episode"),
                                             ({"episode": "run-1", "name": "x"}, "value"),
                                             ({"episode": "run-1", "name": "x", "value": 1, "step_index": 5}, "step_index"),
                                             ({"episode": "run-1", "value": 1}, "name")])
def test_bad_grades_are_400s_naming_the_field(api, make_key, project, episode, body, field):
    response = api(make_key(project, scopes=["annotate"])).post("/api/v1/annotations", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["message"].startswith(field)


def test_another_projects_key_cannot_grade_this_episode(api, make_key, other_project, episode):
    response = api(make_key(other_project, scopes=["annotate"])).post(
        "/api/v1/annotations", {"episode": "run-1", "name": "x", "value": 1}, format="json")
    assert response.status_code == 400


def test_an_unknown_export_format_is_a_400(api, make_key, project):
    response = api(make_key(project, scopes=["read"])).get("/api/v1/annotations/export?as=xml")
    assert response.status_code == 400 and "as:" in response.json()["error"]["message"]
