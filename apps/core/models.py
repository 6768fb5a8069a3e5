from django.db import models
from django.utils import timezone


class LongJob(models.Model):
    """What every long job (a run, an experiment, a counterexample search, a what-if) keeps of its
    life: who asked for it, when, when a worker started it and when it ended; newest first."""

    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class TaskOutbox(models.Model):
    """A Celery task a write promised to run, recorded in the write's own transaction.

    The row is published after commit and deleted when the task has succeeded; until then the
    sweeper (apps/core/outbox.py) publishes it again each time `due_at` passes, so a broker
    outage, a lost message or a killed process delays the work but never loses it.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    # When the sweeper next publishes the row unless the task has succeeded by then.
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # Set when the sweeper gave up (the task kept failing); kept for the operator.
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="taskoutbox_due", condition=models.Q(failed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
