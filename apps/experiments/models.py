"""Experiments: a spec's conditions × tasks × seeds × repeats, one Trial (and one episodes.Run) each.

A Condition row keeps its results as aggregation state (apps/experiments/aggregate.py: moments,
proportions, Pass@k counts), added to batch by batch as trials finish, so the result table of a
10,000-trial experiment is read from a few rows and never recomputed from its runs.
"""

from django.db import models
from django.utils import timezone

from apps.core.models import LongJob
from apps.episodes.models import ACTIVE_STATUSES, Run, RunStatus
from apps.tenancy.models import Project

# An experiment moves through the states of a run: queued, running, then completed, failed or cancelled.
ExperimentStatus = RunStatus
ACTIVE = ACTIVE_STATUSES


class TrialStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not dispatched yet
    DISPATCHED = "dispatched", "Dispatched"  # its run is queued or running
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Experiment(LongJob):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    title = models.CharField(max_length=200, blank=True)
    spec = models.JSONField()  # the parsed spec document, as given
    spec_digest = models.CharField(max_length=64)
    code_version = models.CharField(max_length=100, blank=True)  # `git describe` or the package version
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    status = models.CharField(max_length=16, choices=ExperimentStatus.choices, default=ExperimentStatus.QUEUED)
    max_in_flight = models.PositiveIntegerField(default=64)
    baseline = models.PositiveIntegerField(default=0)  # Condition.index
    success = models.CharField(max_length=100, default="success")
    ks = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    class Meta(LongJob.Meta):
        indexes = [
            models.Index(fields=["project", "-created_at"], name="experiment_project_time"),
            models.Index(fields=["status"], name="experiment_status"),
        ]

    def __str__(self) -> str:
        return f"experiment {self.pk} {self.name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def progress(self) -> int:
        return int(100 * self.finished / self.total) if self.total else 0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the pace so far (None before the first trial finished or once ended)."""
        if not self.is_active or not self.started_at or not self.finished:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return max(0.0, elapsed / self.finished * (self.total - self.finished))


class Condition(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="conditions")
    index = models.PositiveIntegerField()
    label = models.CharField(max_length=500)
    overrides = models.JSONField(default=dict)
    run_spec = models.JSONField()  # the merged run spec, without task overrides and seed
    state = models.JSONField(default=dict)  # aggregate.accumulate's {moments, proportions, passk}
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["experiment", "index"]
        constraints = [models.UniqueConstraint(fields=["experiment", "index"], name="condition_experiment_index")]

    def __str__(self) -> str:
        return self.label


class Trial(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="trials")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="trials")
    task = models.PositiveIntegerField(default=0)  # index into the spec's tasks
    task_key = models.CharField(max_length=500, default="-")
    seed = models.BigIntegerField()  # the spec's seed
    repeat = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=0)  # retries make a new run under a new key
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=TrialStatus.choices, default=TrialStatus.PENDING)
    metrics = models.JSONField(default=dict, blank=True)  # the flattened metrics counted into the condition
    error = models.TextField(blank=True)
    # Added into its condition's state: set in the same transaction as that write, so a finish
    # delivered twice is counted once.
    counted = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["condition", "task", "seed", "repeat"], name="trial_unique")]
        indexes = [models.Index(fields=["experiment", "status"], name="trial_experiment_status")]

    def __str__(self) -> str:
        return f"trial {self.pk} ({self.status})"

    @property
    def run_key(self) -> str:
        """The run id: deterministic, so dispatching the same trial twice finds the run made the first time."""
        key = f"x{self.experiment_id}-{self.pk}"
        return key if self.attempt == 0 else f"{key}-r{self.attempt}"


class Search(LongJob):
    """A budgeted counterexample search (apps/experiments/stress/) played by a worker: one run spec,
    bounded perturbations of its tool outputs, the contracts a perturbed episode must still pass."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    title = models.CharField(max_length=200, blank=True)
    spec = models.JSONField()  # the search spec, as given
    run_spec = models.JSONField()  # its normalised run spec (with seed)
    policy_digest = models.CharField(max_length=64, blank=True)  # the policy deciding calls (institutional)
    contracts = models.JSONField(default=list)  # digests of the contract versions checked
    budget = models.PositiveIntegerField()  # episodes at most
    episodes = models.PositiveIntegerField(default=0)  # played so far
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    found = models.BooleanField(default=False)
    baseline_failed = models.BooleanField(default=False)  # the unperturbed episode already broke a contract
    counterexample = models.JSONField(null=True, blank=True)  # {seed, edits, contract, first_violating_step, ...}
    episode = models.ForeignKey("traces.Episode", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)  # fencing token: a redelivered task starts over

    class Meta(LongJob.Meta):
        indexes = [models.Index(fields=["project", "-created_at"], name="search_project_time")]

    def __str__(self) -> str:
        return f"search {self.pk} {self.name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def progress(self) -> int:
        return 100 if not self.is_active else int(100 * self.episodes / self.budget) if self.budget else 0
