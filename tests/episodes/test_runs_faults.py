"""Faults switched on in a run's spec are recorded on the steps they hit."""

import pytest

from apps.episodes import services
from apps.traces.models import Step
from tests.episodes.builders import ledger_spec

pytestmark = pytest.mark.django_db


def test_injected_errors_are_recorded_on_the_observations(project):
    spec = ledger_spec(rounds=2, faults={"rate": 1.0, "kinds": ["error"], "seed": 1})
    run, _ = services.run_create(project=project, data=spec, actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == "completed", run.error
    observed = Step.objects.filter(episode=run.episode, kind="observation", actor="tool")
    assert observed.count() == 2
    assert all("injected fault" in s.error and s.attributes["fault"]["kind"] == "error" for s in observed)


def test_a_bad_fault_spec_names_the_field(project, api, make_key):
    client = api(make_key(project, scopes=["ingest", "decide", "read"]))
    response = client.post("/api/v1/runs", ledger_spec(faults={"rate": 2}), format="json")
    assert response.status_code == 400 and "faults.rate" in response.json()["error"]["fields"]
