from django.db.models import QuerySet

from apps.tenancy.models import ApiKey, Invitation, Membership, Project


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user")


def invitation_list(*, project: Project) -> QuerySet[Invitation]:
    return Invitation.objects.filter(project=project)


def api_key_list(*, project: Project) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(project=project).select_related("created_by")
