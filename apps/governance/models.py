import json
from datetime import UTC

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project


class GovernanceLogEntry(models.Model):
    """One keyed, append-only entry. The database refuses UPDATE, DELETE and TRUNCATE (see migration 0002)."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=200)
    event = models.CharField(max_length=100)
    # The exact canonical JSON that was MAC'd: stored as text so no re-encoding can alter it.
    payload = models.TextField()
    prev_hash = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32)
    # The GovernanceLogOutbox row this entry chained (None for direct appends). Bookkeeping, not
    # signed: the outbox's delete trigger looks it up to allow removing only chained rows.
    outbox_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["project", "seq"], name="govlog_project_seq_unique"),
            models.UniqueConstraint(
                fields=["outbox_id"], condition=models.Q(outbox_id__isnull=False), name="govlog_outbox_unique"
            ),
        ]
        indexes = [models.Index(fields=["project", "event", "seq"], name="govlog_project_event")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event}"

    @property
    def data(self) -> dict:
        return json.loads(self.payload)

    @property
    def ts(self) -> str:
        return ts_text(self.created_at)


def ts_text(value) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# ts_text computed by PostgreSQL from a `created_at` column: the same text, without a datetime per row.
TS_SQL = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


class GovernanceLogOutbox(models.Model):
    """An event recorded in its own transaction, waiting to be chained into the log.

    Decisions write here instead of appending, so they never wait for the per-project append lock;
    a flush chains the rows in id order under that lock and deletes them. The database refuses
    UPDATE and TRUNCATE, and DELETE of a row no log entry has chained (see migration 0008).
    Raw-SQL writers insert (project_id, created_at, actor, event, payload) and let `id` default.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    # When the event happened: it becomes the entry's signed ts.
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=200)
    event = models.CharField(max_length=100)
    # Canonical JSON text, exactly what will be signed (services.log_payload).
    payload = models.TextField()

    class Meta:
        db_table = "governance_logoutbox"
        ordering = ["project_id", "id"]
        indexes = [models.Index(fields=["project", "id"], name="govoutbox_project_id")]

    def __str__(self) -> str:
        return f"pending {self.event} ({self.id})"


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
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "digest"], name="graph_project_digest_unique"),
            models.UniqueConstraint(fields=["project", "name", "number"], name="graph_project_name_number"),
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(is_active=True), name="graph_one_active_per_project"
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
    """What the Oracle found about one agent in one ended episode (a "round").

    values: {metric: number}; marks: {metric: [step index, ...]} for windowed counts.
    Unique per (agent, episode), so re-running the Oracle on an episode changes nothing.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    agent = models.CharField(max_length=200)
    episode = models.ForeignKey("traces.Episode", on_delete=models.CASCADE, related_name="+")
    values = models.JSONField(default=dict)
    marks = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "agent", "episode"], name="evidence_unique")]
        indexes = [models.Index(fields=["project", "agent", "-created_at"], name="evidence_agent_time")]

    def __str__(self) -> str:
        return f"{self.agent} in episode {self.episode_id}"


class Checkpoint(models.Model):
    """The chain head at a moment, so a truncated tail shows as missing entries. Append-only too."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    entry_seq = models.PositiveBigIntegerField()  # the "log.checkpoint" entry recording it
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="checkpoint_project_seq")]

    def __str__(self) -> str:
        return f"checkpoint at #{self.seq}"
