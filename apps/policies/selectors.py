from difflib import unified_diff

from django.db.models import QuerySet

from apps.policies.models import Approval, Decision, DecisionStatus, Policy, PolicyBinding, PolicyVersion
from apps.tenancy.models import Project


def policy_list(*, project: Project) -> QuerySet[Policy]:
    return Policy.objects.filter(project=project).select_related("active_version")


def policy_get(*, project: Project, name: str) -> Policy | None:
    return Policy.objects.filter(project=project, name=name).select_related("active_version").first()


def version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.filter(policy=policy).select_related("created_by").order_by("-number")


def version_get(*, policy: Policy, ref: str) -> PolicyVersion | None:
    """A version by number ("3") or by digest prefix (at least 6 characters)."""
    qs = PolicyVersion.objects.filter(policy=policy)
    if ref.isdigit():
        return qs.filter(number=int(ref)).first()
    if len(ref) >= 6:
        return qs.filter(digest__startswith=ref.lower()).first()
    return None


def version_diff(*, old: PolicyVersion, new: PolicyVersion) -> str:
    lines = unified_diff(
        old.source.splitlines(keepends=True), new.source.splitlines(keepends=True),
        fromfile=f"v{old.number} ({old.short})", tofile=f"v{new.number} ({new.short})",
    )
    return "".join(lines)


def binding_list(*, project: Project) -> QuerySet[PolicyBinding]:
    return PolicyBinding.objects.filter(project=project).select_related("policy")


def decision_list(*, project: Project, filters: dict | None = None) -> QuerySet[Decision]:
    filters = filters or {}
    qs = Decision.objects.filter(project=project).select_related("episode")
    for name in ("verdict", "agent", "tool", "status"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("episode"):
        qs = qs.filter(episode__external_id=filters["episode"])
    return qs.order_by("-created_at", "-id")


def decision_get(*, project: Project, decision_id: int) -> Decision | None:
    return (
        Decision.objects.filter(project=project, pk=decision_id)
        .select_related("episode", "policy_version__policy")
        .first()
    )


def approval_queue(*, project: Project) -> QuerySet[Approval]:
    return (
        Approval.objects.filter(project=project, status=DecisionStatus.PENDING)
        .select_related("decision__episode")
        .order_by("deadline")
    )


def approval_recent(*, project: Project, limit: int = 20) -> QuerySet[Approval]:
    return (
        Approval.objects.filter(project=project).exclude(status=DecisionStatus.PENDING)
        .select_related("decision__episode", "answered_by")
        .order_by("-answered_at")[:limit]
    )
