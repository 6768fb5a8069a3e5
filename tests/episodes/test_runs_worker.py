"""Runs played by a real Celery worker through the real broker, and recovered when a worker dies."""

import os
import signal

import pytest

from apps.audit.verification import governance_verify
from apps.episodes import services
from apps.episodes.models import Run
from apps.governance.models import Evidence
from apps.policies.models import Decision
from apps.traces.models import Step
from tests.builders.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait(predicate, seconds: float = 120) -> bool:
    return wait_until(predicate, seconds)


def _market_spec(regime: str, rounds: int) -> dict:
    return {"environment": {"kind": "cournot", "rounds": rounds, "costs": 10},
            "agents": [{"name": "f1", "kind": "cartel"}, {"name": "f2", "kind": "tit_for_tat"}],
            "regime": regime, "seed": 3}


def _assert_whole(run: Run, rounds: int) -> None:
    """Every step index once, every round once, one decision per decision step."""
    indexes = list(Step.objects.filter(episode=run.episode).order_by("index").values_list("index", flat=True))
    assert indexes == list(range(run.episode.step_count))
    round_ends = Step.objects.filter(episode=run.episode, kind="observation", actor="environment")
    assert round_ends.count() == rounds * 2
    decision_steps = Step.objects.filter(episode=run.episode, kind="decision").count()
    assert Decision.objects.filter(episode=run.episode).count() == decision_steps > 0


def test_a_real_worker_plays_queued_runs_to_the_end(worker, project):
    worker()
    runs = [services.run_create(project=project, data={**_market_spec(regime, 20), "id": f"w-{regime}"},
                                actor="alice")[0]
            for regime in ("ungoverned", "institutional")]
    assert _wait(lambda: all(not r.is_active for r in Run.objects.filter(pk__in=[r.pk for r in runs])))
    for run in Run.objects.filter(pk__in=[r.pk for r in runs]):
        assert run.status == "completed", run.error
        assert " pid " in run.worker
        _assert_whole(run, 20)
    institutional = Run.objects.get(key="w-institutional")
    assert Evidence.objects.filter(episode=institutional.episode).count() == 40


def test_a_worker_killed_mid_episode_is_recovered_without_duplicated_or_missing_steps(worker, project):
    worker()
    run, _ = services.run_create(project=project, data=_market_spec("institutional", 400), actor="alice")
    assert _wait(lambda: Run.objects.get(pk=run.pk).rounds_done >= 3), Run.objects.filter(pk=run.pk).values()
    playing = Run.objects.get(pk=run.pk)
    assert playing.status == "running"
    os.kill(int(playing.worker.rsplit(" pid ", 1)[1]), signal.SIGKILL)  # the pool process, mid-round
    assert _wait(lambda: not Run.objects.get(pk=run.pk).is_active, 300)
    run.refresh_from_db()
    assert run.status == "completed", run.error
    assert run.attempts >= 2 and run.rounds_done == 400
    _assert_whole(run, 400)
    assert Evidence.objects.filter(episode=run.episode).count() == 800
    assert governance_verify(project=project).ok


def test_a_run_whose_whole_worker_died_is_resumed_by_the_sweep(worker, project):
    first = worker()
    run, _ = services.run_create(project=project, data=_market_spec("ungoverned", 400), actor="alice")
    assert _wait(lambda: Run.objects.get(pk=run.pk).rounds_done >= 3)
    first.kill()  # main process and all: the message stays unacknowledged in the broker
    first.wait(timeout=30)
    os.kill(int(Run.objects.get(pk=run.pk).worker.rsplit(" pid ", 1)[1]), signal.SIGKILL)
    worker()
    assert _wait(lambda: services.runs_sweep(stale_seconds=0) >= 1, 60)
    assert _wait(lambda: not Run.objects.get(pk=run.pk).is_active, 300)
    run.refresh_from_db()
    assert run.status == "completed", run.error
    _assert_whole(run, 400)
