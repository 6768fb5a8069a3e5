"""Reads of the governance log. Callers that must see every committed event flush the outbox first
(services.governance_log_flush): these only read what is chained."""

from django.db.models import Count, Max, QuerySet

from apps.audit.models import Checkpoint, GovernanceLogEntry, GovernanceLogOutbox
from apps.tenancy.models import Project


def log_entry_list(*, project: Project, event: str | None = None) -> QuerySet[GovernanceLogEntry]:
    qs = GovernanceLogEntry.objects.filter(project=project)
    if event:
        qs = qs.filter(event=event)
    return qs.order_by("-seq")


def log_event_names(*, project: Project) -> list[str]:
    return list(
        GovernanceLogEntry.objects.filter(project=project).order_by("event").values_list("event", flat=True).distinct()
    )


def log_length(*, project: Project) -> dict:
    """How many events the log holds, counting those still waiting in the outbox to be chained,
    and when the last one happened. Reads only: the flush task chains the outbox."""
    last = GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values("seq", "created_at").first()
    waiting = GovernanceLogOutbox.objects.filter(project=project).aggregate(n=Count("id"), last_at=Max("created_at"))
    last_at = max((t for t in (last and last["created_at"], waiting["last_at"]) if t), default=None)
    return {"entries": (last["seq"] if last else 0) + waiting["n"], "last_at": last_at}


def log_pending(*, project: Project) -> int:
    """Events committed but not yet chained: they wait in the outbox for the next flush (a fraction of
    a second after a decision, or the beat sweep), and a read never chains them itself."""
    return GovernanceLogOutbox.objects.filter(project=project).count()


def log_head(*, project: Project) -> tuple[int, str] | None:
    return GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values_list("seq", "mac").first()


def checkpoint_latest(*, project: Project) -> Checkpoint | None:
    return Checkpoint.objects.filter(project=project).order_by("-seq").first()


def checkpoint_list(*, project: Project) -> QuerySet[Checkpoint]:
    return Checkpoint.objects.filter(project=project).order_by("-seq")
