"""Learning firms train in process under the run's regime, then play the traced episode."""

import pytest

from apps.episodes import services
from apps.episodes.models import RunStatus

pytestmark = pytest.mark.django_db


def _learners(project, regime: str):
    spec = {"environment": {"kind": "cournot", "rounds": 5, "costs": 10, "channel": False},
            "agents": [{"name": "q1", "kind": "qlearning"}, {"name": "q2", "kind": "qlearning"}],
            "regime": regime, "seed": 4, "training": {"rounds": 3000, "block": 25, "window": 500}}
    run, _ = services.run_create(project=project, data=spec, actor="alice")
    services.run_execute(run_id=run.id, worker="test")
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED, run.error
    return run


def test_the_training_summary_is_part_of_the_runs_evidence(project):
    run = _learners(project, "institutional")
    assert run.training["rounds"] == 3000 and run.training["regime"] == "institutional"
    assert set(run.training["final_states"]) == {"q1", "q2"}
    assert run.episode.step_count > 0


def test_learners_need_learning_rivals(project):
    from django.core.exceptions import ValidationError

    spec = {"environment": {"kind": "cournot"}, "agents": [{"kind": "qlearning"}, {"kind": "nash"}]}
    with pytest.raises(ValidationError) as caught:
        services.run_create(project=project, data=spec, actor="alice")
    assert "agents" in caught.value.message_dict
