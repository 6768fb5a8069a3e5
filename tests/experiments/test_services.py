"""Experiments planned, dispatched as runs, counted and settled (eager Celery, real PostgreSQL)."""

import socket
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from apps.core.models import TaskOutbox
from apps.episodes import services as runs
from apps.episodes.models import Run
from apps.experiments import selectors, services
from apps.experiments.models import Condition, Trial, TrialStatus
from tests.experiments.builders import cournot_spec, play

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "experiments"


def _create(project, **kwargs):
    return services.experiment_create(project=project, source=cournot_spec(**kwargs), actor="alice")


def test_create_plans_one_trial_per_condition_task_seed_and_repeat(project):
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=3, repeats=2), actor="alice")
    assert experiment.total == 2 * 3 * 2 == Trial.objects.filter(experiment=experiment).count()
    assert [c.label for c in experiment.conditions.all()] == ["regime=ungoverned", "regime=constitutional"]
    assert experiment.code_version and experiment.status == "queued"
    assert not Run.objects.filter(project=project).exists()


def test_a_bad_run_spec_is_refused_at_creation_naming_the_field(project):
    spec = cournot_spec()
    spec["run"]["agents"][0]["kind"] = "oracle-of-delphi"
    with pytest.raises(ValidationError) as exc:
        services.experiment_create(project=project, source=spec, actor="alice")
    assert "run.agents[0].kind" in exc.value.message_dict


def test_a_bad_experiment_field_is_refused_naming_it(project):
    with pytest.raises(ValidationError) as exc:
        services.experiment_create(project=project, source=cournot_spec(seeds=0), actor="alice")
    assert list(exc.value.message_dict) == ["seeds"]


def test_dispatch_keeps_at_most_max_in_flight_runs_and_refills_as_they_finish(project):
    experiment = _create(project, seeds=3, max_in_flight=2)
    services.experiment_advance(experiment_id=experiment.pk)
    assert Run.objects.filter(project=project).count() == 2
    assert sorted(Run.objects.values_list("key", flat=True)) == sorted(
        t.run_key for t in Trial.objects.filter(experiment=experiment, status=TrialStatus.DISPATCHED))
    services.experiment_advance(experiment_id=experiment.pk)  # nothing finished: nothing more
    assert Run.objects.filter(project=project).count() == 2
    runs.run_execute(run_id=Run.objects.order_by("id").first().pk, worker="test")
    services.experiment_advance(experiment_id=experiment.pk)
    assert Run.objects.filter(project=project).count() == 3
    experiment = play(experiment)
    assert experiment.status == "completed" and experiment.done == 6 and experiment.failed == 0
    assert Run.objects.filter(project=project).count() == 6


def test_every_trial_is_counted_once_however_often_the_experiment_is_advanced(project):
    experiment = play(_create(project, seeds=3))
    for _ in range(3):
        services.experiment_advance(experiment_id=experiment.pk)
    experiment.refresh_from_db()
    assert experiment.done == 6
    for condition in Condition.objects.filter(experiment=experiment):
        assert condition.done == 3
        assert condition.state["moments"]["collusion_tier"][0] == 3
    assert Trial.objects.filter(experiment=experiment, counted=True).count() == 6


def test_a_finishing_run_promises_the_experiment_an_advance_in_its_transaction(project):
    experiment = _create(project, seeds=1)
    services.experiment_advance(experiment_id=experiment.pk)
    before = TaskOutbox.objects.filter(task="apps.experiments.tasks.experiment_advance_task").count()
    runs.run_execute(run_id=Run.objects.order_by("id").first().pk, worker="test")
    after = TaskOutbox.objects.filter(task="apps.experiments.tasks.experiment_advance_task", args=[experiment.pk])
    assert after.count() == before + 1


def test_a_half_finished_experiment_already_shows_its_table(project):
    experiment = play(_create(project, seeds=4), limit=3)
    assert experiment.status == "running" and 0 < experiment.done < experiment.total
    results = selectors.experiment_results(experiment=experiment)
    ns = [row["metrics"]["collusion_tier"]["n"] for row in results["conditions"] if row["metrics"]]
    assert sum(ns) == experiment.done
    assert experiment.eta_seconds is not None


def test_results_compare_each_condition_with_the_baseline(project):
    experiment = play(_create(project, seeds=3))
    results = selectors.experiment_results(experiment=experiment)
    assert results["baseline"] == "regime=ungoverned"
    (comparison,) = results["comparisons"]
    assert comparison["label"] == "regime=constitutional"
    # scripted firms ignore a constitution: the same outcomes, no difference
    assert comparison["metrics"]["collusion_tier"]["difference"]["estimate"] == 0
    assert "decisions.allow" in results["metrics"] and "success" in results["metrics"]


def test_cancel_stops_dispatch_and_cancels_queued_runs(project):
    experiment = _create(project, seeds=3, max_in_flight=2)
    services.experiment_advance(experiment_id=experiment.pk)
    experiment = services.experiment_cancel(experiment=experiment, actor="alice")
    assert experiment.status == "cancelled"
    assert set(Run.objects.values_list("status", flat=True)) == {"cancelled"}
    experiment = play(experiment)
    assert experiment.cancelled == 6 and experiment.done == 0 and experiment.finished_at is not None
    assert Run.objects.count() == 2
    with pytest.raises(ValidationError):
        services.experiment_cancel(experiment=experiment, actor="alice")


def test_retry_plays_failed_and_cancelled_trials_again_under_new_run_keys(project):
    experiment = _create(project, seeds=2, max_in_flight=1)
    services.experiment_advance(experiment_id=experiment.pk)
    services.experiment_cancel(experiment=experiment, actor="alice")
    experiment = play(experiment)
    assert services.experiment_retry(experiment=experiment, actor="alice") == 4
    experiment = play(experiment)
    assert experiment.status == "completed" and experiment.done == 4 and experiment.cancelled == 0
    retried = Trial.objects.get(experiment=experiment, attempt=1, condition__index=0, seed=0)
    assert retried.run.key.endswith("-r1")
    with pytest.raises(ValidationError):
        services.experiment_retry(experiment=experiment, actor="alice")


def test_a_run_that_fails_is_a_failed_trial_and_the_rest_still_complete(project):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    llm = {"name": "f1", "kind": "llm", "base_url": f"http://127.0.0.1:{closed}/v1", "model": "m"}
    spec = cournot_spec(seeds=2, regimes=["ungoverned"], baseline="scripted, regime=ungoverned")
    spec["conditions"] = [{"label": "scripted"}, {"label": "unreachable model", "agents": [llm, {"name": "f2",
                                                                                                   "kind": "nash"}]}]
    experiment = play(services.experiment_create(project=project, source=spec, actor="alice"))
    assert experiment.status == "completed" and experiment.failed == 2 and experiment.done == 2
    trial = Trial.objects.filter(experiment=experiment, status="failed").first()
    assert trial.condition.label == "unreachable model, regime=ungoverned" and "cannot reach" in trial.error
    assert Condition.objects.get(experiment=experiment, index=1).failed == 2


def test_rerun_reproduces_the_spec_and_seeds(project):
    first = play(_create(project, seeds=2))
    again = play(services.experiment_rerun(experiment=first, actor="bob"))
    assert again.rerun_of == first and again.spec == first.spec
    a, b = (selectors.experiment_results(experiment=e) for e in (first, again))
    assert [r["metrics"] for r in a["conditions"]] == [r["metrics"] for r in b["conditions"]]


def test_the_sweep_advances_unfinished_experiments_only(project):
    done = play(_create(project, seeds=1))
    waiting = _create(project, seeds=1)
    assert services.experiments_sweep() == 1
    assert Run.objects.filter(key__startswith=f"x{waiting.pk}-").count() == 2
    assert not Run.objects.filter(key__startswith=f"x{done.pk}-").exclude(status="completed").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_shipped_example_spec_builds_each_of_its_runs(name):
    """Not only the experiment's own fields: every condition × task's run spec as a worker would build it."""
    plan = services.plan_load((EXAMPLES / name).read_text())
    assert plan.trials >= 1


def test_the_agentdojo_reproduction_compares_no_policy_the_baseline_policy_and_the_provenance_policy():
    plan = services.plan_load((EXAMPLES / "progent-agentdojo.yaml").read_text())
    files = {c.label: (c.run["regime"], (c.run.get("versions") or {}).get("policy_file")) for c in plan.conditions}
    assert files["slack ungoverned"] == ("ungoverned", None)
    assert files["slack baseline"] == ("institutional", "policies/agentdojo/slack.yaml")
    assert files["slack provenance"] == ("institutional", "policies/agentdojo/slack-provenance.yaml")
    assert len(plan.conditions) == 12


def test_an_experiment_naming_a_missing_policy_file_is_refused_at_creation(project):
    spec = cournot_spec(regimes=["institutional"], baseline="institutional")
    spec["run"]["versions"] = {"policy_file": "policies/no-such.yaml"}
    with pytest.raises(ValidationError) as exc:
        services.experiment_create(project=project, source=spec, actor="alice")
    assert "run.versions.policy_file" in exc.value.message_dict


def test_a_run_whose_environment_cannot_be_built_is_a_failed_trial_that_retry_plays_again(project):
    experiment = _create(project, seeds=1, regimes=["ungoverned"])
    services.experiment_advance(experiment_id=experiment.pk)
    trial = Trial.objects.get(experiment=experiment)
    broken = {**trial.run.spec, "environment": {**trial.run.spec["environment"], "costs": "ten"}}
    Run.objects.filter(pk=trial.run_id).update(spec=broken)  # a worker that can no longer build it
    experiment = play(experiment)
    trial.refresh_from_db()
    assert experiment.status == "failed" and experiment.failed == 1
    assert trial.status == TrialStatus.FAILED and "could not be built" in trial.error
    assert services.experiment_retry(experiment=experiment, actor="alice") == 1
    experiment = play(experiment)
    assert experiment.status == "completed" and experiment.done == 1 and experiment.failed == 0
