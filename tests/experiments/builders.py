"""Experiment specs for tests: small scripted Cournot markets, a few rounds each."""

from apps.episodes import services as runs
from apps.experiments import services
from apps.experiments.models import Experiment, Trial, TrialStatus


def cournot_spec(*, seeds: int = 2, rounds: int = 5, max_in_flight: int = 64, regimes=("ungoverned", "constitutional"),
                 **extra) -> dict:
    return {
        "name": "cournot-test", "title": "Scripted Cournot",
        "run": {"environment": {"kind": "cournot", "costs": 10},
                "agents": [{"name": "f1", "kind": "cartel"}, {"name": "f2", "kind": "tit_for_tat"}], "rounds": rounds},
        "matrix": {"regime": list(regimes)}, "seeds": seeds, "baseline": "ungoverned",
        "max_in_flight": max_in_flight, **extra,
    }


def play(experiment: Experiment, *, limit: int | None = None) -> Experiment:
    """Advances the experiment and executes its dispatched runs in this process (what the workers
    do), until it ends or `limit` runs were played."""
    played = 0
    while True:
        services.experiment_advance(experiment_id=experiment.pk)
        queued = list(Trial.objects.filter(experiment=experiment, status=TrialStatus.DISPATCHED, run__status="queued")
                      .values_list("run_id", flat=True))
        if not queued or (limit is not None and played >= limit):
            break
        for run_id in queued:
            if limit is not None and played >= limit:
                break
            runs.run_execute(run_id=run_id, worker="test")
            played += 1
    experiment.refresh_from_db()
    return experiment
