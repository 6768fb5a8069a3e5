import json

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.governance import chain
from apps.governance.models import GovernanceLogEntry, ts_text
from apps.tenancy.models import Project

# Namespace for pg_advisory_xact_lock(ns, project_id): one writer per project chain at a time.
_LOCK_NAMESPACE = 7_301


def _signing_key() -> tuple[str, bytes]:
    key_id = settings.WARDEN_LOG_KEY_ID
    return key_id, settings.WARDEN_LOG_KEYS[key_id].encode()


@transaction.atomic
def governance_log_append(*, project: Project, event: str, actor: str, data: dict) -> GovernanceLogEntry:
    """Appends one entry to the project's chain inside the caller's transaction.

    The advisory lock serialises appends per project across every web and worker process, so
    sequence numbers have no gaps and each entry chains to the one committed before it.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, project.id])
    last = (
        GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values_list("seq", "mac").first()
    )
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
    now = timezone.now()
    payload = chain.canonical(data)
    data = json.loads(payload)
    key_id, key = _signing_key()
    body = chain.entry_body(seq=seq, ts=ts_text(now), actor=actor, event=event, data=data)
    return GovernanceLogEntry.objects.create(
        project=project,
        seq=seq,
        created_at=now,
        actor=actor,
        event=event,
        payload=payload,
        prev_hash=prev_hash,
        mac=chain.mac(key=key, prev_hash=prev_hash, body=body),
        key_id=key_id,
    )
