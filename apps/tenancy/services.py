from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser  # the user model (AUTH_USER_MODEL is not swapped)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import LogEvent
from apps.tenancy.actors import Actor, actor_name, actor_user
from apps.tenancy.models import ApiKey, Membership, Project, Role, Scope, generate_key, hash_key
from apps.tenancy.signals import project_event

User = get_user_model()


def _logged(*, project: Project, event: str, actor: Actor, data: dict) -> None:
    """Records the change in the governance log, in this transaction (see tenancy.signals)."""
    project_event.send(sender=Project, project=project, event=event, actor=actor_name(actor), data=data)


@transaction.atomic
def project_create(*, slug: str, name: str, owner: AuthUser | None = None) -> Project:
    if Project.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [f"A project with slug '{slug}' already exists."]})
    project = Project.objects.create(slug=slug, name=name)
    if owner is not None:
        Membership.objects.create(project=project, user=owner, role=Role.ADMIN)
    return project


@transaction.atomic
def member_set(*, project: Project, username: str, role: str, actor: Actor) -> Membership:
    """Adds `username` to the project or changes their role."""
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'; use one of {', '.join(Role.values)}."]})
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": [f"No user named '{username}'."]})
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    _logged(
        project=project, event=LogEvent.MEMBER_ROLE_SET, actor=actor, data={"user": username, "role": role}
    )
    return membership


@transaction.atomic
def project_graphs_public_set(*, project: Project, public: bool, actor: Actor) -> None:
    """Makes the project's published governance graphs readable without login (or private again)."""
    Project.objects.filter(pk=project.pk).update(graphs_public=public)
    project.graphs_public = public
    _logged(project=project, event="project.graphs_visibility", actor=actor, data={"public": public})


@transaction.atomic
def member_remove(*, membership: Membership, actor: Actor) -> None:
    project = membership.project
    admins = Membership.objects.filter(project=project, role=Role.ADMIN)
    if membership.role == Role.ADMIN and admins.count() == 1:
        raise ValidationError({"username": ["A project needs at least one admin."]})
    username = membership.user.username
    membership.delete()
    _logged(project=project, event=LogEvent.MEMBER_REMOVED, actor=actor, data={"user": username})


@transaction.atomic
def api_key_create(
    *, project: Project, name: str, scopes: list[str], expires_at: datetime | None = None, actor: Actor = None
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with the raw secret, which is never stored and never shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Give the key a name."]})
    scopes = sorted(set(scopes or []))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        raise ValidationError({"scopes": [f"Choose scopes from {', '.join(Scope.values)}."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["Expiry must be in the future."]})
    raw, prefix = generate_key()
    key = ApiKey.objects.create(
        project=project,
        name=name,
        prefix=prefix,
        hashed=hash_key(raw),
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor_user(actor),
    )
    _logged(
        project=project,
        event=LogEvent.API_KEY_CREATED,
        actor=actor_name(actor),
        data={"key": key.display, "name": name, "scopes": scopes},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        _logged(
            project=key.project, event=LogEvent.API_KEY_REVOKED, actor=actor_name(actor), data={"key": key.display}
        )
    return key
