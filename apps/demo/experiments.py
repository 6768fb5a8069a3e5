"""The demo's experiment: scripted Cournot firms under the three regimes, a few seeds, played in
process while seeding (a few seconds) so the Experiments pages open on a finished result table."""

from apps.experiments import services
from apps.experiments.models import Experiment
from apps.tenancy.models import Project

SPEC = """\
name: demo-cournot-regimes
title: "Demo: scripted Cournot firms under three regimes"
run:
  environment: {kind: cournot}
  agents: [{name: firm-a, kind: cartel}, {name: firm-b, kind: tit_for_tat}]
  rounds: 10
matrix:
  regime: [ungoverned, constitutional, institutional]
seeds: 2
baseline: ungoverned
charts: [collusion_tier, severe, consumer_surplus, profits.total, decisions.block]
"""


def demo_experiment_seed(*, project: Project, actor: str) -> str:
    """Idempotent: an existing demo experiment is kept as it is."""
    experiment = Experiment.objects.filter(project=project, name="demo-cournot-regimes").first()
    if experiment is None:
        experiment = services.experiment_create(project=project, source=SPEC, actor=actor)
        services.experiment_play_here(experiment_id=experiment.pk, worker="seed_demo")
        experiment.refresh_from_db()
    return (f"Demo experiment #{experiment.pk}: {experiment.done} of {experiment.total} runs "
            f"({experiment.status}), on the Experiments page.")
