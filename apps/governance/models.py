from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project


class GraphVersion(models.Model):
    """One published, immutable governance graph. `digest` hashes the canonical manifest."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    number = models.PositiveIntegerField()
    digest = models.CharField(max_length=64)
    source = models.TextField()
    manifest = models.JSONField()
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    in_force = models.BooleanField(default=False, db_column="is_active")  # the project's graph in force

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "digest"], name="graph_project_digest_unique"),
            models.UniqueConstraint(fields=["project", "name", "number"], name="graph_project_name_number"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(in_force=True), name="graph_one_active_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.number} ({self.digest[:12]})"


class AgentState(models.Model):
    """An agent's current governance state in a project.

    suspended / revoked_tools / arg_bounds are the effect of the agent's active sanctions, kept
    here (rewritten in the same transaction as any sanction change) so /decide reads one row.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    agent = models.CharField(max_length=200)
    graph = models.ForeignKey(GraphVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # None: no graph state (sanctioned by hand, or no graph active), as /decide expects.
    state = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    entered_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)
    # {"rounds_in_state": int, "clean_streak": int}
    counters = models.JSONField(default=dict, blank=True)
    suspended = models.BooleanField(default=False)
    revoked_tools = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    arg_bounds = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agent"]
        constraints = [models.UniqueConstraint(fields=["project", "agent"], name="agentstate_project_agent")]

    def __str__(self) -> str:
        return f"{self.agent}: {self.state}"


class SanctionKind(models.TextChoices):
    SUSPEND = "suspend", "Suspension (every call blocked)"
    REVOKE = "revoke", "Revoke tool"
    TIGHTEN = "tighten", "Tighten argument bounds"
    FINE = "fine", "Fine"


class Sanction(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    agent = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=SanctionKind.choices)
    tool = models.CharField(max_length=200, blank=True)  # a glob for revoke / tighten
    # tighten: {arg: {"minimum": 10, ...}}; fine: {"amount": 5, "unit": "credits"}
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, default="manual")  # "graph" | "manual"
    graph_state = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    applied_by = models.CharField(max_length=200)
    applied_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=200, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        indexes = [models.Index(fields=["project", "agent", "lifted_at"], name="sanction_project_agent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.tool} on {self.agent}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class Evidence(models.Model):
    """What the Oracle found about one agent in one governance round.

    A round is one ended episode of the agent (`round` None), or, for an episode a worker plays in
    rounds (a market run, apps.episodes), one of its rounds (`round` = its number from 1).
    values: {metric: number}; marks: {metric: [step index, ...]} for windowed counts.
    Unique per (agent, episode, round), so re-running the Oracle on a round changes nothing.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    agent = models.CharField(max_length=200)
    episode = models.ForeignKey("traces.Episode", on_delete=models.CASCADE, related_name="+")
    round = models.PositiveIntegerField(null=True, blank=True)
    values = models.JSONField(default=dict)
    marks = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "agent", "episode", "round"], name="evidence_round_unique",
                                    nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["project", "agent", "-created_at"], name="evidence_agent_time")]

    def __str__(self) -> str:
        where = f"episode {self.episode_id}"
        return f"{self.agent} in {where}" if self.round is None else f"{self.agent} in round {self.round} of {where}"
