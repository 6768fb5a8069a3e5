"""The governance log's rows. The tables keep the names the governance app gave them, and with them
the triggers that make them append-only (governance migrations 0002, 0004, 0005, 0008, 0009).
"""

import json
from datetime import UTC

from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project


class GovernanceLogEntry(models.Model):
    """One keyed, append-only entry. The database refuses UPDATE, DELETE and TRUNCATE (governance migration 0002)."""

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
        db_table = "governance_governancelogentry"  # created by the governance app, which held the log
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


class GovernanceLogOutbox(models.Model):
    """An event recorded in its own transaction, waiting to be chained into the log.

    Decisions write here instead of appending, so they never wait for the per-project append lock;
    a flush chains the rows in id order under that lock and deletes them. The database refuses
    UPDATE and TRUNCATE, and DELETE of a row no log entry has chained (governance migration 0008).
    Raw-SQL writers insert sql.OUTBOX_COLUMNS and let `id` default.
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


class Checkpoint(models.Model):
    """The chain head at a moment, so a truncated tail shows as missing entries. Append-only too."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    entry_seq = models.PositiveBigIntegerField()  # the LogEvent.LOG_CHECKPOINT entry recording it
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "governance_checkpoint"
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="checkpoint_project_seq")]

    def __str__(self) -> str:
        return f"checkpoint at #{self.seq}"
