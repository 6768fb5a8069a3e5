"""Grades on trajectories: scores and labels on episodes and steps, and queues that share the work.

An Annotation is one grade: a `name` (what is graded, e.g. "correctness", "hijacked") with a numeric
`value` (a score) and/or a `label` (a category), on an episode or on one of its steps, by a reviewer
in the browser or an API key (`annotate` scope). Grades are kept, never overwritten by another
grader: the export shows every grader's answer. A grader (or an admin) may change or remove their
own; the governance log records each grade given, changed and removed.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.models import Project
from apps.traces.models import Episode


class Annotation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="+")
    step_index = models.PositiveIntegerField(null=True, blank=True)  # None: the whole episode
    name = models.CharField(max_length=100)
    value = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    source = models.CharField(max_length=120)  # a username, or key:<name> for the API
    queue = models.ForeignKey("AnnotationQueue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["episode_id", models.F("step_index").asc(nulls_first=True), "created_at", "id"]
        indexes = [
            models.Index(fields=["episode", "step_index"], name="annotation_episode_step"),
            models.Index(fields=["project", "name", "-created_at"], name="annotation_project_name"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(value__isnull=True, label=""), name="annotation_value_or_label"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.episode_id}"


class AnnotationQueue(models.Model):
    """Episodes waiting for a grade; reviewers take the next pending one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # What a grader is asked for: the annotation names the queue's form offers first.
    names = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="annotationqueue_name_unique")]

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="items")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="+")
    done = models.BooleanField(default=False)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["queue", "episode"], name="queueitem_queue_episode")]
        indexes = [models.Index(fields=["queue", "done", "id"], name="queueitem_pending")]

    def __str__(self) -> str:
        return f"{self.episode_id} in {self.queue_id}"
