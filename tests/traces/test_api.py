import gzip
import json

import pytest
from django.test import override_settings

from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes"


def _steps(n, start=0):
    return [{"index": start + i, "kind": "action", "agent": "bot", "tool": "search", "arguments": {"q": i}}
            for i in range(n)]


@pytest.fixture
def ingest(project, make_key, api):
    return api(make_key(project, scopes=["ingest", "read"]))


@pytest.fixture
def episode_id(ingest):
    response = ingest.post(EPISODES, {"external_id": "run-1", "title": "First", "agents": ["bot"]}, format="json")
    assert response.status_code == 201
    return "run-1"


def _post_steps(client, external_id, steps, **extra):
    return client.post(f"{EPISODES}/{external_id}/steps", {"steps": steps}, format="json", **extra)


def test_creating_an_episode_twice_resumes_it_with_200(ingest, episode_id):
    response = ingest.post(EPISODES, {"external_id": episode_id}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "First"
    assert Episode.objects.count() == 1


def test_a_batch_of_steps_is_stored_and_counted(ingest, episode_id):
    response = _post_steps(ingest, episode_id, _steps(10))
    assert response.status_code == 200
    assert response.json() == {"external_id": episode_id, "received": 10, "written": 10, "step_count": 10}
    assert Step.objects.filter(episode__external_id=episode_id).count() == 10


def test_resending_a_batch_answers_200_and_writes_nothing(ingest, episode_id):
    _post_steps(ingest, episode_id, _steps(10))
    response = _post_steps(ingest, episode_id, _steps(10))
    assert response.status_code == 200
    assert response.json()["written"] == 0
    assert Step.objects.count() == 10


def test_a_resent_index_with_other_content_is_409_naming_the_index(ingest, episode_id):
    _post_steps(ingest, episode_id, _steps(10))
    batch = _steps(3, start=9)
    batch[0]["arguments"] = {"q": "different"}
    response = _post_steps(ingest, episode_id, batch)
    assert response.status_code == 409
    assert response.json()["error"]["index"] == 9
    assert "9" in response.json()["error"]["message"]
    assert Step.objects.count() == 10


def test_a_batch_with_an_invalid_step_is_400_naming_the_field_and_writes_nothing(ingest, episode_id):
    batch = _steps(5)
    batch[2]["tool"] = "x" * 201
    response = _post_steps(ingest, episode_id, batch)
    assert response.status_code == 400
    assert "steps[2].tool" in response.json()["error"]["fields"]
    assert Step.objects.count() == 0


def test_an_unknown_step_field_is_400_naming_it(ingest, episode_id):
    response = _post_steps(ingest, episode_id, [{"index": 0, "kind": "message", "contnet": "typo"}])
    assert response.status_code == 400
    assert "steps[0].contnet" in response.json()["error"]["fields"]


def test_a_batch_over_the_size_limit_is_400(ingest, episode_id, monkeypatch):
    monkeypatch.setattr("apps.traces.schema.MAX_BATCH_STEPS", 5)
    response = _post_steps(ingest, episode_id, _steps(6))
    assert response.status_code == 400
    assert "steps" in response.json()["error"]["fields"]


def test_malformed_json_is_400_saying_where(ingest, episode_id):
    response = ingest.generic("POST", f"{EPISODES}/{episode_id}/steps", '{"steps": [', content_type="application/json")
    assert response.status_code == 400
    assert "line 1 column" in response.json()["error"]["message"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_limit_is_413(ingest, episode_id):
    response = _post_steps(ingest, episode_id, [{"index": 0, "kind": "message", "content": "x" * 2000}])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_a_gzipped_batch_is_accepted(ingest, episode_id):
    body = gzip.compress(json.dumps({"steps": _steps(4)}).encode())
    response = ingest.generic("POST", f"{EPISODES}/{episode_id}/steps", body, content_type="application/json",
                              HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert Step.objects.count() == 4


def test_steps_for_an_unknown_episode_are_404(ingest):
    assert _post_steps(ingest, "nope", _steps(1)).status_code == 404


def test_ending_an_episode_stores_status_and_outcome(ingest, episode_id):
    response = ingest.post(f"{EPISODES}/{episode_id}/end", {"status": "completed", "outcome": {"success": True}},
                           format="json")
    assert response.status_code == 200
    episode = Episode.objects.get()
    assert (episode.status, episode.outcome) == ("completed", {"success": True})


def test_ending_with_an_unknown_status_is_400_naming_status(ingest, episode_id):
    response = ingest.post(f"{EPISODES}/{episode_id}/end", {"status": "done"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_a_read_only_key_cannot_write_steps(project, make_key, api, episode_id):
    reader = api(make_key(project, scopes=["read"]))
    assert _post_steps(reader, episode_id, _steps(1)).status_code == 403


def test_a_key_without_read_scope_cannot_list(project, make_key, api):
    assert api(make_key(project, scopes=["ingest"])).get(EPISODES).status_code == 403


def test_steps_page_through_in_index_order(ingest, episode_id):
    _post_steps(ingest, episode_id, _steps(250))
    first = ingest.get(f"{EPISODES}/{episode_id}/steps?limit=100").json()
    second = ingest.get(f"{EPISODES}/{episode_id}/steps?from={first['next_from']}&limit=200").json()
    indexes = [s["index"] for s in first["results"] + second["results"]]
    assert indexes == list(range(250))
    assert second["next_from"] is None


def test_listing_filters_by_agent_status_and_tool(ingest):
    for i, (agent, tool) in enumerate([("a", "search"), ("b", "pay"), ("a", "pay")]):
        ingest.post(EPISODES, {"external_id": f"e{i}"}, format="json")
        _post_steps(ingest, f"e{i}", [{"index": 0, "kind": "action", "agent": agent, "tool": tool}])
    ingest.post(f"{EPISODES}/e2/end", {"status": "failed"}, format="json")
    ids = lambda q: sorted(e["external_id"] for e in ingest.get(f"{EPISODES}?{q}").json()["results"])  # noqa: E731
    assert ids("agent=a") == ["e0", "e2"]
    assert ids("tool=pay") == ["e1", "e2"]
    assert ids("agent=a&status=failed") == ["e2"]


def test_listing_searches_step_content_full_text(ingest):
    for i, text in enumerate(["the invoice was paid", "weather is sunny"]):
        ingest.post(EPISODES, {"external_id": f"e{i}"}, format="json")
        _post_steps(ingest, f"e{i}", [{"index": 0, "kind": "message", "content": text}])
    results = ingest.get(f"{EPISODES}?q=invoices").json()["results"]
    assert [e["external_id"] for e in results] == ["e0"]


def test_listing_filters_by_violations_and_time_range(ingest, project):
    for i in range(3):
        ingest.post(EPISODES, {"external_id": f"e{i}", "started_at": f"2026-01-0{i + 1}T00:00:00Z"}, format="json")
    Episode.objects.filter(external_id="e1").update(violation_count=2)
    assert [e["external_id"] for e in ingest.get(f"{EPISODES}?has_violations=true").json()["results"]] == ["e1"]
    ranged = ingest.get(f"{EPISODES}?since=2026-01-02T00:00:00Z&until=2026-01-03T00:00:00Z").json()["results"]
    assert [e["external_id"] for e in ranged] == ["e1"]


def test_a_bad_filter_value_is_400_naming_it(ingest):
    response = ingest.get(f"{EPISODES}?since=yesterday")
    assert response.status_code == 400
    assert "since" in response.json()["error"]["fields"]


def test_a_key_of_another_project_can_neither_read_nor_write(ingest, episode_id, other_project, make_key, api):
    _post_steps(ingest, episode_id, _steps(3))
    outsider = api(make_key(other_project, scopes=["ingest", "read"]))
    assert outsider.get(f"{EPISODES}/{episode_id}").status_code == 404
    assert outsider.get(f"{EPISODES}/{episode_id}/steps").status_code == 404
    assert outsider.get(f"{EPISODES}/{episode_id}/export").status_code == 404
    assert _post_steps(outsider, episode_id, _steps(1, start=3)).status_code == 404
    assert outsider.post(f"{EPISODES}/{episode_id}/end", {"status": "failed"}, format="json").status_code == 404
    assert outsider.get(EPISODES).json()["results"] == []
    assert Step.objects.count() == 3
    assert Episode.objects.get(external_id=episode_id).status == "running"


def test_an_outsider_creating_the_same_external_id_gets_their_own_episode(ingest, episode_id, other_project,
                                                                          make_key, api):
    outsider = api(make_key(other_project, scopes=["ingest", "read"]))
    assert outsider.post(EPISODES, {"external_id": episode_id}, format="json").status_code == 201
    assert Episode.objects.filter(external_id=episode_id).count() == 2


def test_creating_an_episode_without_external_id_is_400_naming_it(ingest):
    response = ingest.post(EPISODES, {"title": "no id"}, format="json")
    assert response.status_code == 400
    assert "external_id" in response.json()["error"]["fields"]
    assert Episode.objects.count() == 0


def test_a_step_with_a_nul_character_is_400_not_a_database_error(ingest, episode_id):
    response = _post_steps(ingest, episode_id, [{"index": 0, "kind": "message", "content": "a\u0000b"}])
    assert response.status_code == 400
    assert "steps[0].content" in response.json()["error"]["fields"]


def test_until_as_a_bare_date_includes_that_whole_day(ingest):
    ingest.post(EPISODES, {"external_id": "late", "started_at": "2026-01-02T23:30:00Z"}, format="json")
    results = ingest.get(f"{EPISODES}?since=2026-01-02&until=2026-01-02").json()["results"]
    assert [e["external_id"] for e in results] == ["late"]


def test_an_external_id_with_slashes_works_for_every_route(ingest):
    assert ingest.post(EPISODES, {"external_id": "team/run/7"}, format="json").status_code == 201
    assert _post_steps(ingest, "team/run/7", _steps(2)).status_code == 200
    assert ingest.get(f"{EPISODES}/team/run/7/steps").json()["results"][1]["index"] == 1
    assert ingest.post(f"{EPISODES}/team/run/7/end", {"status": "completed"}, format="json").status_code == 200
    assert ingest.get(f"{EPISODES}/team/run/7").json()["status"] == "completed"
