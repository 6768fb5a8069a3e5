from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser  # the user model (AUTH_USER_MODEL is not swapped)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import LogEvent
from apps.tenancy.actors import Actor, actor_name, actor_user
from apps.tenancy.models import ApiKey, Invitation, Membership, Project, Role, Scope, generate_key, hash_key
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


MEMBER, INVITED = "member", "invited"


@transaction.atomic
def member_add(*, project: Project, username: str, role: str, actor: Actor) -> str:
    """Gives `username` `role` in the project: at once for a member (a role change), otherwise as an
    invitation, whether or not an account has that name; returns "member" or "invited".

    The answer for a non-member never depends on the account existing, so adding members tells an
    admin nothing about other projects' users. The account joins when it signs in (invitations_accept).
    """
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'; use one of {', '.join(Role.values)}."]})
    username = username.strip()
    if not username or len(username) > 150 or "\x00" in username:
        raise ValidationError({"username": ["A username of 1 to 150 characters."]})
    membership = Membership.objects.filter(project=project, user__username=username).first()
    if membership is not None:
        Membership.objects.filter(pk=membership.pk).update(role=role)
        _logged(project=project, event=LogEvent.MEMBER_ROLE_SET, actor=actor, data={"user": username, "role": role})
        return MEMBER
    Invitation.objects.update_or_create(project=project, username=username,
                                        defaults={"role": role, "invited_by": actor_name(actor)})
    _logged(project=project, event=LogEvent.MEMBER_INVITED, actor=actor, data={"user": username, "role": role})
    return INVITED


@transaction.atomic
def invitation_withdraw(*, invitation: Invitation, actor: Actor) -> None:
    invitation.delete()
    _logged(project=invitation.project, event=LogEvent.INVITATION_WITHDRAWN, actor=actor,
            data={"user": invitation.username})


@transaction.atomic
def invitations_accept(*, user: AuthUser) -> int:
    """Makes `user` a member of every project that invited their username; returns how many.
    Each is logged as a role set by the admin who invited them."""
    accepted = 0
    for invitation in Invitation.objects.select_for_update().filter(username=user.username).select_related("project"):
        Membership.objects.update_or_create(project=invitation.project, user=user, defaults={"role": invitation.role})
        _logged(project=invitation.project, event=LogEvent.MEMBER_ROLE_SET, actor=invitation.invited_by or None,
                data={"user": user.username, "role": invitation.role, "invitation": True})
        invitation.delete()
        accepted += 1
    return accepted


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
