"""Counterexample searches on the workers: a planted violation is found within budget through the
Celery task (eager), recorded with seed, edits and a replayable episode; budget, cancel, API."""

import json

import pytest

from apps.contracts.services import contract_publish
from apps.experiments import searches
from apps.experiments.models import Search
from apps.traces.models import Episode, Step

pytestmark = pytest.mark.django_db

NOTE_HAS_TEXT = """\
name: notes-have-text
severity: low
rules:
  - post: {on: {kind: observation, tool: read_note}, schema: {type: object, required: [note]}}
"""
# The planted weakness: the ledger's note is read every round, and a tool that drops the `note`
# field breaks the contract. Only field drops are tried, on the first three calls.
SPEC = {
    "name": "notes-survive-tampering",
    "run": {"environment": {"kind": "ledger", "rounds": 3},
            "agents": [{"name": "a", "kind": "scripted", "plan": [[{"tool": "read_note"}], [{"tool": "read_note"}]]}]},
    "seed": 4, "budget": 20, "bounds": {"kinds": ["drop_field"], "calls": 3, "max_edits": 2},
}


@pytest.fixture
def contract(project):
    return contract_publish(project=project, source=NOTE_HAS_TEXT, actor="alice")[0]


def _search(project, django_capture_on_commit_callbacks, **changes) -> Search:
    with django_capture_on_commit_callbacks(execute=True):  # the outbox hands the task to (eager) Celery
        search = searches.search_create(project=project, source={**SPEC, **changes}, actor="alice")
    search.refresh_from_db()
    return search


def test_the_worker_finds_the_planted_violation_within_budget(project, contract, django_capture_on_commit_callbacks):
    search = _search(project, django_capture_on_commit_callbacks)
    assert search.status == "completed" and search.found and not search.baseline_failed
    assert 1 < search.episodes <= 20
    found = search.counterexample
    assert found["seed"] == 4 and found["contract"] == "notes-have-text"
    assert [e["kind"] for e in found["edits"]] == ["drop_field"] and found["edits"][0]["path"] == ["note"]
    episode = Episode.objects.get(pk=search.episode_id)
    assert "counterexample" in episode.tags and episode.project == project
    dropped = Step.objects.get(episode=episode, index=found["first_violating_step"])
    assert dropped.tool == "read_note" and "note" not in (dropped.result or {})


def test_nothing_is_found_when_no_edit_can_break_the_contract(project, contract, django_capture_on_commit_callbacks):
    search = _search(project, django_capture_on_commit_callbacks, bounds={"kinds": ["insert_text"], "calls": 3},
                     budget=6)
    assert search.status == "completed" and not search.found and search.episodes == 6
    assert search.counterexample is None and search.episode_id is None


def test_a_queued_search_is_cancelled_at_once_and_never_plays(project, contract):
    search = searches.search_create(project=project, source=SPEC, actor="alice")  # no worker took it yet
    assert searches.search_cancel(search=search, actor="bob").status == "cancelled"
    assert searches.search_run(search_id=search.pk) == "cancelled"
    assert Search.objects.get(pk=search.pk).episodes == 0


def test_a_search_stops_after_its_first_episode_when_cancelled_meanwhile(project, contract, monkeypatch):
    search = searches.search_create(project=project, source={**SPEC, "bounds": {"kinds": ["insert_text"]}},
                                    actor="alice")
    original = searches.counterexample_search

    def cancel_then_search(**kwargs):
        Search.objects.filter(pk=search.pk).update(cancel_requested=True)  # a reviewer pressed Cancel
        return original(**kwargs)

    monkeypatch.setattr(searches, "counterexample_search", cancel_then_search)
    assert searches.search_run(search_id=search.pk) == "cancelled"
    search.refresh_from_db()
    assert search.episodes == 2  # the unperturbed episode and one try


@pytest.mark.parametrize(("change", "field"), [
    ({"budget": 0}, "budget"), ({"contracts": ["nope"]}, "contracts[0]"), ({"bounds": {"kinds": ["melt"]}},
                                                                           "bounds.kinds"),
    ({"run": {"environment": {"kind": "ledger"}, "agents": [{"kind": "wizard"}]}}, "run.agents[0].kind"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_spec_is_a_400_naming_the_field_and_writes_nothing(project, contract, api, make_key, change, field):
    client = api(make_key(project, scopes=["ingest", "decide", "read"]))
    response = client.generic("POST", "/api/v1/searches", json.dumps({**SPEC, **change}),
                              content_type="application/json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert not Search.objects.exists()


def test_a_search_needs_a_contract_to_look_for(project, api, make_key):
    client = api(make_key(project, scopes=["ingest", "decide", "read"]))
    response = client.generic("POST", "/api/v1/searches", json.dumps(SPEC), content_type="application/json")
    assert response.status_code == 400 and "contracts" in response.json()["error"]["fields"]


def test_the_api_creates_lists_follows_and_cancels_within_the_keys_project(project, other_project, contract, api,
                                                                            make_key):
    client = api(make_key(project, scopes=["ingest", "decide", "read"]))
    yaml_body = "name: y\nbudget: 5\nrun: {environment: {kind: ledger}, agents: [{name: a, kind: scripted}]}\n"
    created = client.generic("POST", "/api/v1/searches", yaml_body, content_type="application/yaml")
    assert created.status_code == 201, created.content
    search_id = created.json()["id"]
    assert client.get(f"/api/v1/searches/{search_id}").json()["budget"] == 5
    assert [s["id"] for s in client.get("/api/v1/searches").json()["results"]] == [search_id]
    assert client.post(f"/api/v1/searches/{search_id}/cancel").json()["status"] == "cancelled"
    assert client.post(f"/api/v1/searches/{search_id}/cancel").status_code == 400
    outsider = api(make_key(other_project, scopes=["ingest", "decide", "read"]))
    assert outsider.get(f"/api/v1/searches/{search_id}").status_code == 404


def test_the_page_lists_what_was_found_with_its_replay(project, contract, login, viewer,
                                                       django_capture_on_commit_callbacks):
    search = _search(project, django_capture_on_commit_callbacks)
    html = login(viewer).get(f"/p/{project.slug}/experiments/searches/").content.decode()
    assert "notes-have-text" in html and "drop_field" in html
    assert f"/p/{project.slug}/traces/e/{search.episode_id}/" in html
    assert 'id="search-spec"' not in html  # a viewer cannot start one


def test_a_second_delivery_while_a_worker_plays_the_search_leaves_it_alone(project, contract, settings):
    import psycopg

    search = searches.search_create(project=project, source=SPEC, actor="alice")
    db = settings.DATABASES["default"]
    other = psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"],
                            password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True)
    with other:  # another worker's session holds the search
        other.execute("SELECT pg_advisory_lock(%s, %s)", [searches.LOCK_CLASS, search.pk])
        assert searches.search_run(search_id=search.pk) == "busy"
    search.refresh_from_db()
    assert search.status == "queued" and search.attempts == 0
    assert searches.search_run(search_id=search.pk) == "completed"  # that worker's session ended
