"""Runs: agent episodes a Celery worker plays under a governance regime.

A Run writes one traces.Episode through the same decision and trace services a runtime uses, so
the episode looks like production traffic everywhere. `checkpoint` is the state after the last
completed round, committed in the round's own transaction with its steps: a worker killed mid-round
leaves the run resumable from there (see services.run_execute).
"""

from django.db import models

from apps.core.models import LongJob
from apps.tenancy.models import Project
from apps.traces.models import Episode


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class Regime(models.TextChoices):
    UNGOVERNED = "ungoverned", "Ungoverned"
    CONSTITUTIONAL = "constitutional", "Constitutional"
    INSTITUTIONAL = "institutional", "Institutional"


class Run(LongJob):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The run id: the caller's idempotency key, or one Warden made. Slug characters only, because
    # it becomes part of agent names that policy bindings match with globs.
    key = models.CharField(max_length=100)
    title = models.CharField(max_length=200, blank=True)
    spec = models.JSONField()  # normalised (see spec.py); `spec_digest` hashes it
    spec_digest = models.CharField(max_length=64)
    environment = models.CharField(max_length=100)
    regime = models.CharField(max_length=16, choices=Regime.choices)
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    episode = models.OneToOneField(Episode, null=True, blank=True, on_delete=models.SET_NULL, related_name="run")
    # The digests in force: {"policy": ..., "graph": ..., "contracts": [...]}
    versions = models.JSONField(default=dict, blank=True)
    snapshot_before = models.JSONField(null=True, blank=True)
    snapshot_after = models.JSONField(null=True, blank=True)
    # Model requests/responses and tool outputs per agent, enough to replay without the endpoint.
    recording = models.JSONField(default=dict, blank=True)
    training = models.JSONField(default=dict, blank=True)  # {agent: summary} of in-process training
    metrics = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)  # regime notes, e.g. scripted agents ignore a constitution
    checkpoint = models.JSONField(null=True, blank=True)
    rounds_done = models.PositiveIntegerField(default=0)
    rounds_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta(LongJob.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="run_project_key_unique")]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="run_project_time"),
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"run {self.key} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def progress(self) -> int:
        if self.status == RunStatus.COMPLETED:
            return 100
        return int(100 * self.rounds_done / self.rounds_total) if self.rounds_total else 0

    @property
    def episode_external_id(self) -> str:
        return f"runs/{self.key}"

    def agent_name(self, agent: str) -> str:
        """The name Warden knows the agent by: scoped to the run, so governance state never leaks
        from one run into another (and a binding glob `*@<key>` reaches exactly this run)."""
        return f"{agent}@{self.key}"
