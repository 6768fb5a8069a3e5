import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # /graphs/<slug>/ answers without login only when the project's admins made its graphs public;
    # otherwise it is a 404 to anyone but the project's members, as for a slug nobody uses.
    graphs_public = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Invitation(models.Model):
    """A role offered to a username, whether or not an account has that name: adding a member
    answers the same either way (nothing tells an admin which usernames exist). The account of
    that name becomes a member when it next signs in (tenancy.services.invitations_accept)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.CharField(max_length=200, blank=True)  # who invited (a username or key:<name>)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "username"], name="invitation_unique")]
        ordering = ["username"]

    def __str__(self) -> str:
        return f"{self.username} invited to {self.project} as {self.role}"


class Scope(models.TextChoices):
    INGEST = "ingest", "Ingest traces"
    DECIDE = "decide", "Ask for decisions"
    READ = "read", "Read"
    REVIEW = "review", "Answer approvals"
    ANNOTATE = "annotate", "Grade episodes"
    ADMIN = "admin", "Administer"


KEY_PREFIX = "wdn_"


def hash_key(raw: str) -> str:
    # Keys carry 192 bits of randomness, so a fast hash is enough and keeps
    # authentication off the hot path of /decide; a password KDF would add milliseconds.
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """Returns (raw key, lookup prefix). The prefix is the only part kept in clear."""
    prefix = secrets.token_hex(4)
    return f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}", prefix


class ApiKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=16, choices=Scope.choices))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({KEY_PREFIX}{self.prefix}_…)"

    @property
    def display(self) -> str:
        return f"{KEY_PREFIX}{self.prefix}_…"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        # admin implies every other scope
        return scope in self.scopes or Scope.ADMIN in self.scopes


class IdempotencyKey(models.Model):
    """A write an API key made under a client-chosen key: a retry with the same key gets this answer.

    Scoped to the API key (and through it the project); `fingerprint` is a digest of the request,
    so the same key with another request is refused. Written in the same statement or
    transaction as the write it answers for; deleted after `expires_at` (apps/tenancy/idempotency.py).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(default=200)
    # The answer, or what rebuilds it: /decide keeps {"decision_id": N} and shows the decision as it is now.
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires")]

    def __str__(self) -> str:
        return f"{self.key} ({self.api_key_id})"


class LoginFailure(models.Model):
    """A wrong password for a username from an address; enough of them recently lock that pair
    (apps/tenancy/limits.py). Rows older than the lockout window are deleted as new ones come."""

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["username", "address", "created_at"], name="loginfailure_recent"),
            models.Index(fields=["created_at"], name="loginfailure_created"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.address} at {self.created_at:%Y-%m-%d %H:%M:%S}"
