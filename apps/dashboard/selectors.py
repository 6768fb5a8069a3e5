"""The project overview: a handful of counts a reviewer looks at first, each one indexed query."""

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.policies.models import Approval, Decision, DecisionStatus
from apps.tenancy.models import Project
from apps.traces.models import Episode, EpisodeStatus

VERDICTS = ["allow", "rewrite", "ask", "block", "terminate"]


def project_summary(*, project: Project, days: int = 7) -> dict:
    since = timezone.now() - timedelta(days=days)
    episodes = dict(
        Episode.objects.filter(project=project).values_list("status").annotate(n=Count("id")).order_by()
    )
    verdicts = dict(
        Decision.objects.filter(project=project, created_at__gte=since)
        .values_list("verdict")
        .annotate(n=Count("id"))
        .order_by()
    )
    governance_log_flush(project_id=project.id)  # count decisions still in the log's outbox too
    last_entry = GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values("seq", "created_at").first()
    return {
        "days": days,
        "episodes": {
            "total": sum(episodes.values()),
            **{status: episodes.get(status, 0) for status in EpisodeStatus.values},
        },
        "decisions": {"total": sum(verdicts.values()), **{v: verdicts.get(v, 0) for v in VERDICTS}},
        "pending_approvals": Approval.objects.filter(project=project, status=DecisionStatus.PENDING).count(),
        "log": {"entries": last_entry["seq"] if last_entry else 0, "last_at": last_entry and last_entry["created_at"]},
    }
