"""Contract compliance and fault containment as trial metrics: measured from the run's trace, and
"unknown" where nothing could have measured them (no contract, no fault)."""

import csv
import io

import pytest

from apps.contracts.services import contract_publish
from apps.experiments import selectors, services
from apps.experiments.metrics import compliance_of
from apps.experiments.models import Trial
from tests.episodes.builders import ledger_spec
from tests.experiments.builders import play

pytestmark = pytest.mark.django_db
NO_BIG_ADDS = "name: no-big-adds\nrules:\n  - never: {tool: add, arguments: {amount: {gt: 10}}}\n"


def _ledger_experiment(project, conditions, **extra):
    run = ledger_spec(rounds=3, plan=[[{"tool": "add", "arguments": {"amount": 5}}],
                                      [{"tool": "add", "arguments": {"amount": 50}}]])
    run.pop("seed")
    spec = {"name": "ledger-metrics", "run": run, "conditions": conditions, "seeds": 2, **extra}
    return play(services.experiment_create(project=project, source=spec, actor="alice"))


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], None), (["inconclusive"], None), (["pass", "inconclusive"], True), (["pass", "fail"], False),
])
def test_compliance_is_unknown_unless_a_contract_could_decide(statuses, expected):
    assert compliance_of(statuses) is expected


def test_a_run_breaking_a_contract_is_not_compliant_and_a_condition_without_contracts_is_unknown(project):
    contract_publish(project=project, source=NO_BIG_ADDS, actor="alice")
    experiment = _ledger_experiment(project, [{"label": "big adds"}])
    trial = Trial.objects.filter(experiment=experiment).first()
    assert trial.metrics["contract_compliance"] is False
    results = selectors.experiment_results(experiment=experiment)
    cell = results["conditions"][0]["metrics"]["contract_compliance"]
    assert cell["kind"] == "proportion" and cell["estimate"] == 0 and cell["n"] == 2
    assert results["conditions"][0]["metrics"]["containment_rate"]["kind"] == "unknown"  # no fault happened


def test_compliance_is_unknown_not_perfect_when_the_project_has_no_contract(project, login, viewer):
    experiment = _ledger_experiment(project, [{"label": "no contracts"}])
    assert "contract_compliance" not in Trial.objects.filter(experiment=experiment).first().metrics
    results = selectors.experiment_results(experiment=experiment)
    assert results["conditions"][0]["metrics"]["contract_compliance"]["estimate"] is None
    rows = list(csv.DictReader(io.StringIO(selectors.results_csv(experiment=experiment))))
    assert {r["kind"] for r in rows if r["metric"] == "contract_compliance"} == {"unknown"}
    page = login(viewer).get(f"/p/{project.slug}/experiments/{experiment.pk}/").content.decode()
    assert "contract_compliance" in page and ">unknown</td>" in page


def test_containment_counts_the_faults_after_which_the_injected_call_ran(project):
    inject = {"rate": 1.0, "kinds": ["inject"], "seed": 1, "payload": {"tool": "add", "arguments": {"amount": 1}}}
    experiment = _ledger_experiment(project, [{"label": "injected", "faults": inject}, {"label": "clean"}],
                                    baseline="clean")
    injected = Trial.objects.filter(experiment=experiment, condition__index=0).first()
    # every round's add ran after the first round's injection: that fault was not contained
    assert 0 <= injected.metrics["containment_rate"] < 1
    results = selectors.experiment_results(experiment=experiment)
    assert results["conditions"][0]["metrics"]["containment_rate"]["kind"] == "mean"
    assert results["conditions"][1]["metrics"]["containment_rate"]["kind"] == "unknown"
