"""The Runs pages: list, start from the form, follow a run, cancel, download snapshots."""

import pytest

from apps.episodes import services
from apps.episodes.models import Run
from tests.episodes.builders import ledger_spec

pytestmark = pytest.mark.django_db

SPEC = """\
id: from-the-form
environment: {kind: ledger, rounds: 2}
agents: [{name: a, kind: scripted, plan: [[{tool: add, arguments: {amount: 2}}]]}]
"""


def test_a_reviewer_starts_a_run_from_the_form_and_lands_on_its_page(login, reviewer, project):
    response = login(reviewer).post(f"/p/{project.slug}/runs/", {"spec": SPEC})
    assert response.status_code == 302 and response["Location"].endswith("/runs/from-the-form/")
    assert Run.objects.get(key="from-the-form").status == "queued"


def test_a_bad_spec_in_the_form_shows_the_field(login, reviewer, project):
    response = login(reviewer).post(f"/p/{project.slug}/runs/", {"spec": "environment: {kind: ledger}\nagents: []"})
    assert response.status_code == 400
    assert "agents: must contain at least 1 items" in response.content.decode()
    assert Run.objects.count() == 0


def test_viewers_see_runs_but_cannot_start_them(login, viewer, project):
    client = login(viewer)
    assert "Start a run" not in client.get(f"/p/{project.slug}/runs/").content.decode()
    assert client.post(f"/p/{project.slug}/runs/", {"spec": SPEC}).status_code == 403


def test_a_finished_run_links_its_replay_and_snapshots(login, viewer, project):
    run, _ = services.run_create(project=project, data=ledger_spec(id="done", rounds=2), actor="alice")
    services.run_execute(run_id=run.id)
    client = login(viewer)
    page = client.get(f"/p/{project.slug}/runs/done/").content.decode()
    run.refresh_from_db()
    assert f"/traces/e/{run.episode_id}/" in page and "completed" in page
    fragment = client.get(f"/p/{project.slug}/runs/done/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and 'id="run"' in fragment and "hx-trigger" not in fragment
    snapshots = client.get(f"/p/{project.slug}/runs/done/snapshots.json")
    assert snapshots["Content-Disposition"].startswith("attachment")
    assert snapshots.json()["after"]["totals"] == {"a": 10}


def test_an_active_run_polls_and_can_be_cancelled(login, reviewer, project):
    services.run_create(project=project, data=ledger_spec(id="live"), actor="alice")
    client = login(reviewer)
    assert 'hx-trigger="every 1s"' in client.get(f"/p/{project.slug}/runs/live/").content.decode()
    fragment = client.post(f"/p/{project.slug}/runs/live/cancel/", headers={"HX-Request": "true"}).content.decode()
    assert "cancelled" in fragment and "<html" not in fragment


def test_runs_of_another_project_are_not_found(login, outsider, project):
    services.run_create(project=project, data=ledger_spec(id="secret"), actor="alice")
    assert login(outsider).get(f"/p/{project.slug}/runs/secret/").status_code == 404


def test_the_replay_page_of_a_run_shows_its_snapshots(login, viewer, project):
    run, _ = services.run_create(project=project, data=ledger_spec(id="replayed", rounds=2), actor="alice")
    services.run_execute(run_id=run.id)
    run.refresh_from_db()
    page = login(viewer).get(f"/p/{project.slug}/traces/e/{run.episode_id}/").content.decode()
    assert 'id="run-panel"' in page and "/runs/replayed/snapshots.json" in page
    assert "Environment before the first round" in page and "&quot;totals&quot;" in page
