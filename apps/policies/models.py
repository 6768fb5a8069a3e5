"""Policies, their immutable versions, bindings to agents/environments, and decision evidence."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project
from apps.traces.models import Episode


class Policy(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="policies")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    # The version in force: the one /decide uses; re-activating an older version just moves this pointer.
    in_force = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_column="active_version_id",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="policy_project_name_unique")]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    """Immutable: a version is never edited, only superseded. `digest` hashes the parsed content."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    digest = models.CharField(max_length=64)
    source = models.TextField()
    rule_count = models.PositiveIntegerField(default=0)
    test_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policyversion_number_unique"),
            models.UniqueConstraint(fields=["policy", "digest"], name="policyversion_digest_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number} ({self.digest[:12]})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Policy versions are immutable; publish a new version instead.")
        super().save(*args, **kwargs)

    @property
    def short(self) -> str:
        return self.digest[:12]


class PolicyBinding(models.Model):
    """Which policy governs which agents in which environments (globs). Highest priority first."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="bindings")
    agent = models.CharField(max_length=200, default="*")
    environment = models.CharField(max_length=200, default="*")
    priority = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "agent", "environment"], name="policybinding_scope_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} for {self.agent} in {self.environment}"


class Verdict(models.TextChoices):
    ALLOW = "allow", "Allow"
    BLOCK = "block", "Block"
    REWRITE = "rewrite", "Rewrite"
    ASK = "ask", "Ask"
    TERMINATE = "terminate", "Terminate"


class DecisionStatus(models.TextChoices):
    DECIDED = "decided", "Decided"
    PENDING = "pending", "Waiting for a reviewer"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    TIMED_OUT = "timed_out", "Timed out"


class Decision(models.Model):
    """The evidence record of one /decide. `outcome` is what the runtime must do now.

    Evidence tiers: routine allows keep the columns only (tier "light"); blocks, rewrites, asks
    and terminations also keep `evidence` (context used, failed constraint, arguments before/after).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="+")
    step_index = models.PositiveIntegerField(null=True, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    # "tool" (a tool call), or "message": an outgoing message, `tool` then names its recipient and
    # `arguments` are {"content", "to"}.
    kind = models.CharField(max_length=8, default="tool")
    tool = models.CharField(max_length=200)
    arguments = models.JSONField(default=dict)
    final_arguments = models.JSONField(default=dict)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    outcome = models.CharField(max_length=16, choices=Verdict.choices)
    status = models.CharField(max_length=16, choices=DecisionStatus.choices, default=DecisionStatus.DECIDED)
    rule = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    policy_version = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    policy_digest = models.CharField(max_length=64, blank=True)
    tier = models.CharField(max_length=8, default="light")
    evidence = models.JSONField(default=dict, blank=True)
    latency_us = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="decision_project_time"),
            models.Index(fields=["project", "verdict", "-created_at"], name="decision_project_verdict"),
            models.Index(fields=["episode", "step_index"], name="decision_episode_step"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.tool} {self.verdict}"


class Approval(models.Model):
    """A decision that asked a human: pending until a reviewer answers or the deadline passes."""

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, primary_key=True, related_name="approval")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=DecisionStatus.choices, default=DecisionStatus.PENDING)
    deadline = models.DateTimeField()
    default = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.BLOCK)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    answered_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    # The clear values of the call's sensitive arguments ({name: value}), for the reviewer who
    # answers; emptied by the answer (or the deadline) in the same transaction. Every other copy
    # of the call holds masks (apps/policies/masking.py).
    clear_arguments = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["deadline"]
        indexes = [models.Index(fields=["project", "status", "deadline"], name="approval_project_status")]

    def __str__(self) -> str:
        return f"approval of decision {self.decision_id}: {self.status}"

    def arguments_for_reviewer(self) -> dict:
        """The call as the reviewer who answers sees it: the sensitive values in clear while pending."""
        return {**self.decision.arguments, **(self.clear_arguments or {})}


class EpisodeGuard(models.Model):
    """Per-episode policy state, so /decide never scans an episode's steps.

    `counts` are allowed calls per tool; `scanned_to` is the step index below which provenance has
    been checked for untrusted content; `narrowings` are episode-scoped overlays ({digest, source}).
    """

    episode = models.OneToOneField(Episode, on_delete=models.CASCADE, primary_key=True, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    untrusted = models.BooleanField(default=False)
    scanned_to = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    narrowings = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Bumped by every write: /decide reads without a lock and writes only if `rev` is unchanged.
    rev = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"guard of episode {self.episode_id}"


class ProvenanceValue(models.Model):
    """One value an episode's steps carried ("kind:normalised", see engine/values.py), with the
    first step that carried it among trusted and among untrusted content.

    Written as steps are stored (policies.receivers.on_steps_storing, inside the writing
    transaction), read by /decide for the values of the call being decided only. `source:<name>`
    rows record the first step of each untrusted source. The C collation makes the key compare
    bytes (the values are normalised already) and lets `source:` rows be read as a key range.
    """

    pk = models.CompositePrimaryKey("episode_id", "value")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="+", db_index=False)
    value = models.TextField(db_collation="C")
    trusted_step = models.PositiveIntegerField(null=True, blank=True)
    trusted_source = models.CharField(max_length=100, blank=True)
    untrusted_step = models.PositiveIntegerField(null=True, blank=True)
    untrusted_source = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.value} in episode {self.episode_id}"
