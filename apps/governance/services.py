import hashlib
import hmac
import json

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.governance import chain
from apps.governance.models import Checkpoint, GovernanceLogEntry, ts_text
from apps.tenancy.models import Project

# Namespace for pg_advisory_xact_lock(ns, project_id): one writer per project chain at a time.
_LOCK_NAMESPACE = 7_301


def _signing_key() -> tuple[str, bytes]:
    key_id = settings.WARDEN_LOG_KEY_ID
    return key_id, settings.WARDEN_LOG_KEYS[key_id].encode()


def _lock_head(project_id: int) -> tuple[int, str, str, str] | None:
    """Takes the project's append lock and returns its head (seq, mac, event, key_id) in one round trip.

    The advisory lock serialises appends per project across every web and worker process and is
    held until the caller's transaction ends, so sequence numbers have no gaps and each entry
    chains to the one committed before it (see migration 0005 for why the head read is fresh).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM governance_log_lock_head(%s, %s)", [_LOCK_NAMESPACE, project_id])
        row = cursor.fetchone()
    return None if row is None or row[0] is None else row


# No savepoint when nested: an entry that cannot be appended must abort what it records.
@transaction.atomic(savepoint=False)
def governance_log_append(*, project: Project, event: str, actor: str, data: dict) -> GovernanceLogEntry:
    """Appends one entry to the project's chain inside the caller's transaction."""
    head = _lock_head(project.id)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    now = timezone.now()
    # Canonical text of the JSON value as it reads back (e.g. int keys become strings and sort as
    # strings), so the stored payload is exactly the text that is signed and verified.
    payload = chain.canonical(json.loads(chain.canonical(data)))
    key_id, key = _signing_key()
    body = chain.body_text(seq=seq, ts=ts_text(now), actor=actor, event=event, payload=payload)
    mac = hmac.new(key, f"{prev_hash}\n{body}".encode(), hashlib.sha256).hexdigest()
    entry = GovernanceLogEntry(
        project=project, seq=seq, created_at=now, actor=actor, event=event, payload=payload,
        prev_hash=prev_hash, mac=mac, key_id=key_id,
    )
    # Every /decide appends: a plain INSERT skips the ORM's per-field preparation.
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [project.id, seq, now, actor, event, payload, prev_hash, mac, key_id])
        entry.id = cursor.fetchone()[0]
    entry._state.adding = False
    return entry


_INSERT_SQL = (
    "INSERT INTO governance_governancelogentry (project_id, seq, created_at, actor, event, payload, prev_hash,"
    " mac, key_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


@transaction.atomic
def log_checkpoint(*, project: Project) -> Checkpoint | None:
    """Records the chain head (seq + hash) as a "log.checkpoint" entry and a Checkpoint row.

    Skips when nothing was appended since the last checkpoint, so the beat task can run often.
    Deleting entries up to the head later shows as missing entries, not as a shorter valid log.
    """
    head = _lock_head(project.id)
    if head is None or head[2] == "log.checkpoint":
        return None
    entry = governance_log_append(
        project=project, event="log.checkpoint", actor="system", data={"seq": head[0], "head": head[1]}
    )
    return Checkpoint.objects.create(project=project, seq=head[0], head_hash=head[1], entry_seq=entry.seq)


def log_checkpoint_all() -> int:
    """Checkpoints every project that has a log; returns how many checkpoints were written."""
    project_ids = GovernanceLogEntry.objects.values_list("project_id", flat=True).distinct()
    written = 0
    for project in Project.objects.filter(id__in=project_ids):
        written += log_checkpoint(project=project) is not None
    return written


@transaction.atomic
def log_key_rotated(*, project: Project, actor: str) -> GovernanceLogEntry | None:
    """Logs "log.key_rotated" when the signing key differs from the key of the last entry.

    The new key signs the rotation entry itself; old keys stay in WARDEN_LOG_KEYS to verify
    earlier entries. Returns None when the project's chain already uses the current key.
    """
    head = _lock_head(project.id)
    last_key = head[3] if head else None
    key_id, _key = _signing_key()
    if last_key is None or last_key == key_id:
        return None
    return governance_log_append(
        project=project, event="log.key_rotated", actor=actor,
        data={"previous_key_id": last_key, "key_id": key_id},
    )
