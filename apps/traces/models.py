"""Message-action traces: an Episode is an ordered list of Steps by one or more agents.

Steps are the largest table. Plan for tens of millions of rows: writes go in bulk
(`bulk_create` / COPY), reads go through the (episode, index) key or the narrow indexes below,
and the table can later be range-partitioned by `created_at` (see README, "Trace store").
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models.functions import Cast, Left
from django.utils import timezone

from apps.tenancy.models import Project


class EpisodeStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    TERMINATED = "terminated", "Terminated by governance"


class Episode(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="episodes")
    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    task = models.TextField(blank=True)
    agents = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    environment = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=EpisodeStatus.choices, default=EpisodeStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # outcome: {"success": bool, "termination_reason": str, "metrics": {...}}
    outcome = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    # {"policy": digest, "contracts": [digest, ...], "graph": digest}
    versions = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    # Denormalised so lists and ingestion never count steps: the next free index.
    step_count = models.PositiveIntegerField(default=0)
    tools = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    violation_count = models.PositiveIntegerField(default=0)
    # One conversation's episodes share a session (REST `session`; OTLP: the conversation id).
    session = models.CharField(max_length=200, blank=True)
    # Sums over the steps, kept by the trace services as steps are stored, so lists sort by them.
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    # OTLP: the trace ids whose spans landed here, so later spans of a trace find their episode.
    trace_ids = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="episode_external_id_unique"),
        ]
        indexes = [
            models.Index(fields=["project", "-started_at"], name="episode_project_time"),
            models.Index(fields=["project", "status", "-started_at"], name="episode_project_status"),
            models.Index(fields=["project", "environment"], name="episode_project_env"),
            models.Index(fields=["project", "session", "started_at"], name="episode_project_session",
                         condition=~models.Q(session="")),
            GinIndex(fields=["agents"], name="episode_agents_gin"),
            GinIndex(fields=["tools"], name="episode_tools_gin"),
            GinIndex(fields=["tags"], name="episode_tags_gin"),
            GinIndex(fields=["trace_ids"], name="episode_trace_ids_gin"),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class StepKind(models.TextChoices):
    MESSAGE = "message", "Message"
    ACTION = "action", "Action"
    OBSERVATION = "observation", "Observation"
    DECISION = "decision", "Decision"


class Actor(models.TextChoices):
    AGENT = "agent", "Agent"
    USER = "user", "User"
    TOOL = "tool", "Tool"
    ENVIRONMENT = "environment", "Environment"
    GOVERNANCE = "governance", "Governance"


class Provenance(models.TextChoices):
    TRUSTED = "trusted", "Trusted"
    UNTRUSTED = "untrusted", "Untrusted"


class Step(models.Model):
    # Set by the trace services on the rows they return: whether this call stored the step (not a column).
    created: bool

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    actor = models.CharField(max_length=16, choices=Actor.choices, default=Actor.AGENT)
    agent = models.CharField(max_length=200, blank=True)  # which agent (or user/tool name)
    role = models.CharField(max_length=32, blank=True)  # chat role: system/user/assistant/tool
    content = models.TextField(blank=True)
    tool = models.CharField(max_length=200, blank=True)
    arguments = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    provenance = models.CharField(max_length=16, choices=Provenance.choices, default=Provenance.TRUSTED)
    source = models.CharField(max_length=100, blank=True)  # e.g. web, email, file
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    parent_span_id = models.CharField(max_length=16, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Content hash of the step as received; a re-sent index with another digest is a conflict.
    digest = models.CharField(max_length=64)
    # Full-text search over what a reviewer looks for: the words said, the tool used, and the call's
    # arguments and result (an IBAN planted in a tool result must be findable). The JSON columns
    # count with their first 100,000 characters each, so no step's words outgrow a tsvector.
    search = models.GeneratedField(
        expression=SearchVector(
            "content", "tool", "error",
            Left(Cast("arguments", models.TextField()), 100_000),
            Left(Cast("result", models.TextField()), 100_000),
            config="english",
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["episode_id", "index"]
        constraints = [models.UniqueConstraint(fields=["episode", "index"], name="step_episode_index_unique")]
        indexes = [
            # Agent and tool filters go through Episode.agents/tools (GIN), so steps carry no
            # agent or tool index: every index here is paid on each of millions of inserts.
            models.Index(fields=["project", "-created_at"], name="step_project_time"),
            # Decisions of an episode (evidence, metrics, replay) without walking all its steps.
            models.Index(
                fields=["episode", "index"], name="step_episode_decisions", condition=models.Q(kind="decision")
            ),
            GinIndex(fields=["search"], name="step_search_gin"),
            # OTLP re-sends are recognised by span id; only OTLP steps carry one, hence partial.
            models.Index(
                fields=["episode", "span_id"], name="step_episode_span", condition=~models.Q(span_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.episode_id}#{self.index} {self.kind}"


class SavedView(models.Model):
    """A reviewer's named list state (filters and sort as a query string), per user and page."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=40, default="episodes")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "page", "name"], name="savedview_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name
