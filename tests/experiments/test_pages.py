"""Experiments pages: list and create form, detail with results and charts, htmx fragments, roles."""

import pytest

from apps.experiments import services
from apps.experiments.models import Experiment
from tests.experiments.builders import cournot_spec, play
from tests.experiments.test_api import YAML

pytestmark = pytest.mark.django_db


def test_the_list_shows_an_empty_state_and_the_form(login, admin):
    response = login(admin).get("/p/acme/experiments/")
    assert response.status_code == 200
    assert b"No experiments yet" in response.content and b'id="experiment-spec"' in response.content


def test_a_pasted_spec_creates_an_experiment_and_a_bad_one_names_the_field(login, reviewer):
    client = login(reviewer)
    response = client.post("/p/acme/experiments/", {"spec": YAML.replace("seeds: 2", "seeds: zero")})
    assert response.status_code == 400 and b"seeds: must be" in response.content
    response = client.post("/p/acme/experiments/", {"spec": YAML})
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/experiments/{experiment.pk}/")


def test_a_viewer_cannot_create_cancel_or_retry(login, viewer, project):
    client = login(viewer)
    assert client.post("/p/acme/experiments/", {"spec": YAML}).status_code == 403
    experiment = services.experiment_create(project=project, source=cournot_spec(), actor="alice")
    assert client.post(f"/p/acme/experiments/{experiment.pk}/cancel/").status_code == 403
    assert client.post(f"/p/acme/experiments/{experiment.pk}/retry/").status_code == 403


def test_an_outsider_gets_404(login, outsider, project):
    experiment = services.experiment_create(project=project, source=cournot_spec(), actor="alice")
    assert login(outsider).get(f"/p/acme/experiments/{experiment.pk}/").status_code == 404
    assert login(outsider).get(f"/p/globex/experiments/{experiment.pk}/").status_code == 404


def test_the_detail_shows_results_comparisons_charts_and_exports(login, viewer, project):
    experiment = play(services.experiment_create(project=project, source=cournot_spec(seeds=2), actor="alice"))
    client = login(viewer)
    page = client.get(f"/p/acme/experiments/{experiment.pk}/").content.decode()
    assert 'id="result-table"' in page and 'id="comparison-table"' in page and "collusion_tier" in page
    assert 'data-chart="chart-1-data"' in page and 'id="chart-1-data"' in page
    fragment = client.get(f"/p/acme/experiments/{experiment.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and 'id="live"' in fragment
    csv = client.get(f"/p/acme/experiments/{experiment.pk}/results.csv")
    assert csv.status_code == 200 and csv.content.startswith(b"condition,metric")
    condition = client.get(f"/p/acme/experiments/{experiment.pk}/conditions/0/").content.decode()
    assert condition.count('class="replay"') == 2
    assert client.get(f"/p/acme/experiments/{experiment.pk}/conditions/7/").status_code == 404


def test_cancel_and_retry_answer_with_the_live_fragment(login, reviewer, project):
    experiment = services.experiment_create(project=project, source=cournot_spec(), actor="alice")
    client = login(reviewer)
    fragment = client.post(f"/p/acme/experiments/{experiment.pk}/cancel/").content.decode()
    assert 'id="experiment-status">cancelled<' in fragment
    again = client.post(f"/p/acme/experiments/{experiment.pk}/cancel/").content.decode()
    assert "already cancelled" in again
    fragment = client.post(f"/p/acme/experiments/{experiment.pk}/retry/").content.decode()
    assert 'id="experiment-status">queued<' in fragment
