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


def _graded(api, raw: str) -> dict:
    response = api(raw).post("/api/v1/annotations", {"episode": "run-1", "name": "toxicity", "value": 0.1}, format="json")
    assert response.status_code == 201
    return response.json()


def test_a_key_changes_and_removes_its_own_grade_and_both_are_logged(api, make_key, project, episode):
    from apps.audit.models import GovernanceLogEntry

    key = make_key(project, scopes=["annotate"])
    grade = _graded(api, key)
    changed = api(key).patch(f"/api/v1/annotations/{grade['id']}", {"value": 0.7, "label": "mild"}, format="json")
    assert changed.status_code == 200 and (changed.json()["value"], changed.json()["label"]) == (0.7, "mild")
    assert api(key).delete(f"/api/v1/annotations/{grade['id']}").status_code == 204
    assert api(key).get(f"/api/v1/annotations/{grade['id']}").status_code == 404
    events = list(GovernanceLogEntry.objects.filter(project=project, event__startswith="annotation.")
                  .order_by("seq").values_list("event", "actor"))
    assert events == [("annotation.created", "key:test"), ("annotation.updated", "key:test"),
                      ("annotation.deleted", "key:test")]


def test_another_key_cannot_change_a_grade_but_an_admin_key_can(api, make_key, project, episode):
    from apps.tenancy import services as tenancy_services

    grade = _graded(api, make_key(project, scopes=["annotate"]))
    _key, other = tenancy_services.api_key_create(project=project, name="other", scopes=["annotate"])
    assert api(other).patch(f"/api/v1/annotations/{grade['id']}", {"value": 1}, format="json").status_code == 403
    assert api(other).delete(f"/api/v1/annotations/{grade['id']}").status_code == 403
    _key, boss = tenancy_services.api_key_create(project=project, name="boss", scopes=["admin"])
    assert api(boss).delete(f"/api/v1/annotations/{grade['id']}").status_code == 204


def test_a_read_key_cannot_change_grades_and_another_project_sees_none(api, make_key, project, other_project, episode):
    grade = _graded(api, make_key(project, scopes=["annotate"]))
    assert api(make_key(project, scopes=["read"])).delete(f"/api/v1/annotations/{grade['id']}").status_code == 403
    outsider = api(make_key(other_project, scopes=["admin"]))
    assert outsider.get(f"/api/v1/annotations/{grade['id']}").status_code == 404
    assert outsider.delete(f"/api/v1/annotations/{grade['id']}").status_code == 404


def test_a_change_with_nothing_to_change_is_a_400_naming_value(api, make_key, project, episode):
    key = make_key(project, scopes=["annotate"])
    grade = _graded(api, key)
    response = api(key).patch(f"/api/v1/annotations/{grade['id']}", {}, format="json")
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("value")
