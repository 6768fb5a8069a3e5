"""Signal receivers of the experiments app: thin, they record (connected in ExperimentsConfig.ready).

A run that belongs to a trial finishing promises one `experiment_advance_task` in the finishing
transaction (task outbox): the trial is counted and the next runs dispatched even if the process that
finished the run dies right after its commit.
"""

import re

from apps.core.outbox import task_enqueue
from apps.experiments.models import Trial

RUN_KEY = re.compile(r"^x\d+-\d+(-r\d+)?$")  # Trial.run_key


def on_run_finished(sender, run, status: str, **kwargs) -> None:
    from apps.experiments.tasks import experiment_advance_task

    if not RUN_KEY.match(run.key):  # not an experiment's run: no query at all
        return
    experiment_id = Trial.objects.filter(run_id=run.pk).values_list("experiment_id", flat=True).first()
    if experiment_id is not None:
        task_enqueue(task=experiment_advance_task, args=[experiment_id])
