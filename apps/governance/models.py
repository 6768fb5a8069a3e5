import json
from datetime import UTC

from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project


class GovernanceLogEntry(models.Model):
    """One keyed, append-only entry. The database refuses UPDATE, DELETE and TRUNCATE (see migration 0001)."""

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

    class Meta:
        ordering = ["project_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["project", "seq"], name="govlog_project_seq_unique")]
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
