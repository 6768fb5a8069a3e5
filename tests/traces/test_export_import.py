import io

import pytest
from django.core.management import call_command

from apps.traces import jsonl, services
from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db


def _episode(project, external_id="run-1", n=5):
    episode, _ = services.episode_upsert(
        project=project, external_id=external_id, title="Pay the invoice", agents=["bot"], environment="bank",
        seed=42, config={"model": "m"}, tags=["nightly"],
    )
    services.steps_append_batch(episode=episode, steps=[
        {"index": i, "kind": "action" if i % 2 else "message", "agent": "bot", "content": f"say {i}", "tool": "pay",
         "arguments": {"amount": i}, "result": {"ok": True}, "provenance": "untrusted", "source": "web",
         "started_at": "2026-03-01T10:00:00Z", "tokens_in": i, "cost": "0.0125", "attributes": {"x": [1, 2]}}
        for i in range(n)
    ])
    return services.episode_end(episode=episode, status="completed", outcome={"success": True})


def _content(project):
    episodes = {
        e.external_id: jsonl.episode_record(e) for e in Episode.objects.filter(project=project)
    }
    steps = sorted(
        (s.episode.external_id, s.index, s.digest, repr(jsonl.step_record(s, s.episode.external_id)))
        for s in Step.objects.filter(project=project).select_related("episode")
    )
    return episodes, steps


def test_export_then_import_into_another_project_stores_the_same_content(project, other_project):
    _episode(project, "run-1")
    _episode(project, "run-2", n=3)
    lines = list(jsonl.export_lines(Episode.objects.filter(project=project)))
    counts = jsonl.traces_import(project=other_project, lines=lines)
    assert counts == {"episodes": 2, "steps": 8}
    assert _content(other_project) == _content(project)


def test_importing_the_same_export_twice_changes_nothing(project, other_project):
    _episode(project)
    lines = list(jsonl.export_lines(Episode.objects.filter(project=project)))
    jsonl.traces_import(project=other_project, lines=lines)
    jsonl.traces_import(project=other_project, lines=lines)
    assert Step.objects.filter(project=other_project).count() == 5


def test_an_import_with_a_bad_line_imports_nothing_and_names_the_line(project, other_project):
    _episode(project)
    lines = list(jsonl.export_lines(Episode.objects.filter(project=project)))
    lines.append('{"type": "step", "episode": "run-1", "index": 9, "kind": "nope"}\n')
    with pytest.raises(Exception) as exc:
        jsonl.traces_import(project=other_project, lines=lines)
    assert exc.value.field == "line 7.kind"
    assert not Episode.objects.filter(project=other_project).exists()


def test_export_api_round_trips_through_import_api(project, other_project, make_key, api):
    _episode(project)
    exported = api(make_key(project, scopes=["read"])).get("/api/v1/episodes/run-1/export")
    assert exported["Content-Type"] == "application/x-ndjson"
    body = b"".join(exported.streaming_content)
    response = api(make_key(other_project, scopes=["ingest"])).generic(
        "POST", "/api/v1/traces/import", body, content_type="application/x-ndjson"
    )
    assert response.status_code == 200
    assert _content(other_project) == _content(project)


def test_filtered_export_contains_only_matching_episodes(project, make_key, api):
    _episode(project, "run-1")
    services.episode_upsert(project=project, external_id="run-2", environment="shop")
    body = b"".join(api(make_key(project, scopes=["read"])).get("/api/v1/traces/export?environment=shop").streaming_content)
    assert '"external_id":"run-2"' in body.decode()
    assert '"external_id":"run-1"' not in body.decode()


def test_import_api_with_a_conflicting_step_is_409_naming_the_index(project, make_key, api):
    _episode(project)
    lines = list(jsonl.export_lines(Episode.objects.filter(project=project)))
    lines[3] = lines[3].replace('"say 2"', '"changed"')
    response = api(make_key(project, scopes=["ingest"])).generic(
        "POST", "/api/v1/traces/import", "".join(lines), content_type="application/x-ndjson"
    )
    assert response.status_code == 409
    assert response.json()["error"]["index"] == 2


def test_management_commands_round_trip(project, other_project, tmp_path):
    _episode(project)
    path = tmp_path / "out.jsonl"
    call_command("traces_export", "acme", "--output", str(path))
    out = io.StringIO()
    call_command("traces_import", "globex", str(path), stdout=out)
    assert "imported 1 episodes, 5 steps" in out.getvalue()
    assert _content(other_project) == _content(project)
