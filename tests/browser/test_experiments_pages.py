"""The Experiments pages in Chromium: paste a spec, read the result table and charts, drill down to a
condition's runs and open one in the replay; a viewer's page follows a running experiment."""

import pytest

from apps.experiments import services
from apps.experiments.models import Experiment
from tests.experiments.builders import cournot_spec, play
from tests.experiments.test_api import YAML

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SPEC = YAML + "charts: [collusion_tier, severe]\n"


def test_a_reviewer_starts_an_experiment_reads_its_results_and_opens_a_runs_replay(browser_login, project, reviewer):
    page = browser_login(reviewer)
    page.click("nav >> text=Experiments")
    page.wait_for_selector("text=No experiments yet")
    page.fill("#experiment-spec", SPEC.replace("seeds: 2", "seeds: many"))
    page.click("button[type=submit]:has-text('Start experiment')")
    page.wait_for_selector(".error")
    assert page.locator(".error").first.inner_text().startswith("seeds:")
    page.fill("#experiment-spec", SPEC)
    page.click("button[type=submit]:has-text('Start experiment')")
    # Celery is eager in tests: the runs have played by the time the page answers.
    page.wait_for_selector("#experiment-status:has-text('completed')")
    assert page.locator("#experiment-counts").inner_text() == "4 / 4"
    assert page.locator("#result-table tbody tr").count() >= 2
    assert "regime=institutional" in page.locator("#comparison-table thead").text_content()
    page.wait_for_selector("#chart-1[data-drawn=true]")
    assert page.locator("#charts .chart").count() == 2
    page.click("#conditions >> text=regime=ungoverned")
    page.wait_for_selector("#trials")
    assert page.locator("#trials tbody tr").count() == 2
    page.locator("#trials a.replay").first.click()
    page.wait_for_selector("#run-panel")
    assert Experiment.objects.get().done == 4


def test_a_viewer_watches_a_queued_experiment_fill_in(browser_login, project, viewer, monkeypatch):
    monkeypatch.setattr(services, "_promise_advance", lambda experiment: None)  # no worker has taken it yet
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=2), actor="alice")
    page = browser_login(viewer)
    page.goto("/p/acme/experiments/")
    assert page.locator("#experiment-spec").count() == 0
    page.click(f"text=#{experiment.pk}")
    page.wait_for_selector("#experiment-status:has-text('queued')")
    assert page.locator("text=No run has finished yet").count() == 1
    play(experiment)  # the workers play it meanwhile
    page.wait_for_selector("#experiment-status:has-text('completed')", timeout=15_000)
    page.wait_for_selector("#result-table")
    assert page.locator("#experiment-cancel").count() == 0


SEARCH = """\
name: notes-survive-tampering
run:
  environment: {kind: ledger, rounds: 3}
  agents: [{name: a, kind: scripted, plan: [[{tool: read_note}], [{tool: read_note}]]}]
seed: 4
budget: 20
bounds: {kinds: [drop_field], calls: 3, max_edits: 2}
"""


def test_a_reviewer_starts_a_counterexample_search_and_opens_what_it_found_in_the_replay(browser_login, project,
                                                                                      reviewer):
    from apps.contracts.services import contract_publish
    from tests.experiments.test_searches import NOTE_HAS_TEXT

    contract_publish(project=project, source=NOTE_HAS_TEXT, actor="alice")
    page = browser_login(reviewer)
    page.goto("/p/acme/experiments/")
    page.click("text=Counterexample searches")
    page.wait_for_selector("text=No searches yet")
    page.fill("#search-spec", SEARCH.replace("budget: 20", "budget: 0"))
    page.click("button[type=submit]:has-text('Start search')")
    page.wait_for_selector(".error")
    assert page.locator(".error").first.inner_text().startswith("budget:")
    page.fill("#search-spec", SEARCH)
    page.click("button[type=submit]:has-text('Start search')")
    # Celery is eager in tests: the search plays after the response; the list polls until it ends.
    row = page.locator("#searches tbody tr").first
    page.wait_for_selector("#searches td.found", timeout=20_000)
    assert "notes-have-text" in row.locator("td.found").inner_text()
    assert "drop_field" in row.locator("ul.edits").inner_text()
    assert row.locator("td").nth(4).inner_text() == "4"  # the seed
    row.locator("text=replay").click()
    page.wait_for_selector("#steps")
    assert "Counterexample of search" in page.content()
