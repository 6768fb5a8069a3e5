"""Experiments fanned out to real Celery workers through the real broker, and recovered when one dies."""

import os
import signal

import pytest

from apps.episodes.models import Run
from apps.experiments import services
from apps.experiments.models import Condition, Experiment, Trial
from tests.builders.workers import wait_until
from tests.experiments.builders import cournot_spec

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait(predicate, seconds: float = 180) -> bool:
    return wait_until(predicate, seconds)


def _finished(experiment) -> bool:
    return Experiment.objects.get(pk=experiment.pk).finished_at is not None


def _assert_counted_once(experiment: Experiment) -> None:
    experiment.refresh_from_db()
    assert experiment.status == "completed"
    assert experiment.done == experiment.total == Trial.objects.filter(experiment=experiment, counted=True).count()
    assert Run.objects.filter(key__startswith=f"x{experiment.pk}-").count() == experiment.total
    assert set(Run.objects.filter(key__startswith=f"x{experiment.pk}-").values_list("status", flat=True)) == {
        "completed"}
    for condition in Condition.objects.filter(experiment=experiment):
        assert condition.done == Trial.objects.filter(condition=condition, status="completed").count()
        assert condition.state["moments"]["collusion_tier"][0] == condition.done
        assert condition.state["proportions"]["success"][1] == condition.done


def test_real_workers_play_an_experiment_to_the_end(worker, project):
    worker()
    worker()
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=3, rounds=10, max_in_flight=2),
                                            actor="alice")
    assert _wait(lambda: _finished(experiment)), Experiment.objects.filter(pk=experiment.pk).values()
    _assert_counted_once(experiment)
    assert experiment.total == 6


def test_a_worker_killed_mid_experiment_finishes_with_every_trial_counted_once(worker, project):
    worker()
    worker()
    experiment = services.experiment_create(project=project, source=cournot_spec(seeds=3, rounds=150, max_in_flight=2),
                                            actor="alice")
    playing = Run.objects.filter(key__startswith=f"x{experiment.pk}-", status="running", rounds_done__gte=3)
    assert _wait(lambda: playing.exists())
    victim = playing.first()
    os.kill(int(victim.worker.rsplit(" pid ", 1)[1]), signal.SIGKILL)  # the pool process, mid-round
    # The killed task comes back from the broker; the sweep would catch a lost advance (called here
    # instead of beat).
    assert _wait(lambda: services.experiments_sweep() == 0, 300), Experiment.objects.filter(pk=experiment.pk).values()
    _assert_counted_once(experiment)
    victim.refresh_from_db()
    assert victim.attempts >= 2
