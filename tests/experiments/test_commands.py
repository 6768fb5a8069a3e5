"""manage.py experiment run | rerun | show | cancel | retry."""

import pytest
from django.core.management import CommandError, call_command

from apps.experiments.models import Experiment
from tests.experiments.test_api import YAML

pytestmark = pytest.mark.django_db


def test_experiment_run_here_plays_it_and_prints_the_result_table(project, tmp_path, capsys):
    path = tmp_path / "experiment.yaml"
    path.write_text(YAML)
    call_command("experiment", "run", str(path), "--project", project.slug, "--here")
    out = capsys.readouterr().out
    experiment = Experiment.objects.get()
    assert f"experiment {experiment.pk} yaml-experiment completed: done 4, failed 0, cancelled 0 of 4" in out
    assert "collusion_tier" in out and "regime=institutional" in out and "vs baseline" in out


def test_experiment_rerun_and_show(project, tmp_path, capsys):
    path = tmp_path / "experiment.yaml"
    path.write_text(YAML)
    call_command("experiment", "run", str(path), "--project", project.slug)
    first = Experiment.objects.get()
    call_command("experiment", "rerun", str(first.pk), "--here")
    again = Experiment.objects.exclude(pk=first.pk).get()
    assert again.rerun_of == first and again.status == "completed"
    capsys.readouterr()
    call_command("experiment", "show", str(first.pk))
    assert f"experiment {first.pk} yaml-experiment queued: done 0" in capsys.readouterr().out
    call_command("experiment", "cancel", str(first.pk))
    with pytest.raises(CommandError, match="status: the experiment is already cancelled"):
        call_command("experiment", "cancel", str(first.pk))


def test_experiment_run_names_the_bad_field(project, tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(YAML.replace("seeds: 2", "seeds: -1"))
    with pytest.raises(CommandError, match="seeds: must be between"):
        call_command("experiment", "run", str(path), "--project", project.slug)
    assert not Experiment.objects.exists()


def test_experiment_run_publishes_the_contracts_it_is_given_so_compliance_is_measured(project, tmp_path, capsys):
    from pathlib import Path

    from apps.contracts.models import Contract
    from apps.experiments.models import Trial

    path = tmp_path / "experiment.yaml"
    path.write_text(YAML)
    contract = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "agentdojo-banking.yaml"
    call_command("experiment", "run", str(path), "--project", project.slug, "--here", "--contract", str(contract))
    assert "contract agentdojo-banking-no-attacker-payment v1 published" in capsys.readouterr().out
    assert Contract.objects.filter(project=project, enabled=True).count() == 1
    assert all(t.metrics["contract_compliance"] is True for t in Trial.objects.all())  # nobody pays the attacker
    with pytest.raises(CommandError, match="contract"):
        call_command("experiment", "run", str(path), "--project", project.slug, "--contract", str(tmp_path / "none"))
