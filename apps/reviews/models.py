"""Violations: failed contract verdicts and blocked/terminated policy decisions, triaged by reviewers."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project
from apps.traces.models import Episode


class Source(models.TextChoices):
    CONTRACT = "contract", "Contract"
    POLICY = "policy", "Policy"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    DISMISSED = "dismissed", "Dismissed"
    ESCALATED = "escalated", "Escalated"


# Where a reviewer may move a violation from each status.
TRANSITIONS = {
    Status.OPEN: {Status.ACKNOWLEDGED, Status.DISMISSED, Status.ESCALATED},
    Status.ACKNOWLEDGED: {Status.DISMISSED, Status.ESCALATED, Status.OPEN},
    Status.ESCALATED: {Status.ACKNOWLEDGED, Status.DISMISSED},
    Status.DISMISSED: {Status.OPEN},
}

SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Violation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="violations")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="violations")
    source = models.CharField(max_length=16, choices=Source.choices)
    # Contract name, or the policy rule id for a decision.
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64, blank=True)  # contract or policy version digest
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    first_step_index = models.PositiveIntegerField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_violations")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "source", "name"], name="violation_episode_source_name"),
        ]
        indexes = [
            models.Index(fields=["project", "status", "-created_at"], name="violation_project_status"),
            models.Index(fields=["project", "severity"], name="violation_project_severity"),
            models.Index(fields=["project", "agent"], name="violation_project_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.name} on {self.episode_id}"

    def can_move_to(self, status: str) -> bool:
        return status == self.status or status in TRANSITIONS.get(self.status, set())


class ViolationComment(models.Model):
    """One entry of a violation's history: a reviewer's comment, or the reason given for a change."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    author_name = models.CharField(max_length=200)  # what the log records: a username or `key:<name>`
    text = models.TextField()
    status = models.CharField(max_length=16, blank=True)  # the status it moved to, when it came with a change
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["violation", "created_at"], name="violationcomment_violation")]

    def __str__(self) -> str:
        return f"{self.author_name} on violation {self.violation_id}: {self.text[:40]}"
