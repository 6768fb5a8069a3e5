"""Contracts (named, per project), their immutable content-hashed versions, verdicts and what-if jobs."""

from django.db import models
from django.utils import timezone

from apps.core.models import LongJob
from apps.tenancy.models import Project
from apps.traces.models import Episode


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Contract(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="contracts")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # Disabled contracts keep their versions and verdicts but check no new episodes.
    enabled = models.BooleanField(default=True)
    # The version in force: what new episodes are checked against (the latest published, unless an
    # older one was re-published).
    in_force = models.ForeignKey("ContractVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", db_column="current_id")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="contract_project_name_unique")]

    def __str__(self) -> str:
        return self.name


class ContractVersion(models.Model):
    """Immutable: a new source is a new row. `digest` hashes the parsed content, not the layout."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    digest = models.CharField(max_length=64)
    source = models.TextField()
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    runtime = models.BooleanField(default=False)
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["contract_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contractversion_number_unique"),
            models.UniqueConstraint(fields=["contract", "digest"], name="contractversion_digest_unique"),
        ]
        indexes = [models.Index(fields=["project", "digest"], name="contractversion_digest")]

    def __str__(self) -> str:
        return f"{self.contract.name} v{self.number}"

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


class VerdictStatus(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class Verdict(models.Model):
    """One episode checked against one contract version. Re-checking replaces the row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="verdicts")
    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="verdicts")
    status = models.CharField(max_length=16, choices=VerdictStatus.choices)
    first_violating_step = models.PositiveIntegerField(null=True, blank=True)
    # [{"rule", "operator", "step", "steps": [...], "message"}], earliest first
    evidence = models.JSONField(default=list, blank=True)
    steps_checked = models.PositiveIntegerField(default=0)
    # True when a runtime check found the failure while the episode was live.
    at_runtime = models.BooleanField(default=False)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-checked_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["episode", "version"], name="verdict_episode_version_unique")]
        indexes = [
            models.Index(fields=["project", "status", "-checked_at"], name="verdict_project_status"),
            models.Index(fields=["version", "status"], name="verdict_version_status"),
        ]

    def __str__(self) -> str:
        return f"{self.episode_id} × {self.version_id}: {self.status}"


class RuntimeState(models.Model):
    """The checking state of a `runtime` contract on a live episode, so each batch feeds only new steps."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="+")
    next_index = models.PositiveIntegerField(default=0)
    state = models.JSONField(default=dict)
    failed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "version"], name="runtimestate_unique")]

    def __str__(self) -> str:
        return f"{self.episode_id} × {self.version_id} @ {self.next_index}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class WhatIfJob(LongJob):
    """Re-checks stored episodes against a candidate contract or policy version; keeps what would change."""

    KIND_CONTRACT, KIND_POLICY = "contract", "policy"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, default=KIND_CONTRACT)
    # Contract what-if: the candidate version (possibly unpublished source) vs the stored verdicts.
    contract_name = models.CharField(max_length=100)
    candidate_source = models.TextField()
    candidate_digest = models.CharField(max_length=64)
    baseline = models.ForeignKey(ContractVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # {"status", "environment", "agent", "since", "until"}; `last` caps to the N most recent episodes.
    filters = models.JSONField(default=dict, blank=True)
    last = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # {"before": {"pass": n, ...}, "after": {...}, "steps": n}
    summary = models.JSONField(default=dict, blank=True)
    # Only the changed episodes: [{"episode", "external_id", "before", "after", "first_before", "first_after", ...}]
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # The running worker writes this every few seconds; a running job whose heartbeat is stale
    # lost its worker and is restarted (up to a limit, counted by `attempts`) or failed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta(LongJob.Meta):
        indexes = [models.Index(fields=["project", "-created_at"], name="whatif_project_time")]

    def __str__(self) -> str:
        return f"what-if {self.contract_name} ({self.status})"

    @property
    def progress(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.finished_at else 0)

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
