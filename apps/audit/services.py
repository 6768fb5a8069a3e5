"""Writes to the governance log: direct appends, the decision outbox and its flush, checkpoints.

Two ways in. `governance_log_append` chains an entry at once under the project's append lock.
`governance_log_defer` only records the event in the outbox inside the caller's transaction, so a
decision never waits for that lock nor holds it across its commit; `governance_log_flush` chains
outbox rows in id order, in batches, under the same lock. Every path that reads or extends the
chain first chains what is pending, so the log keeps causal order and readers see every event.
"""

import json
import logging
import os
import threading
import time
from typing import Literal, NamedTuple, overload

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit import chain, sql
from apps.audit.models import Checkpoint, GovernanceLogEntry, GovernanceLogOutbox, ts_text
from apps.core import background
from apps.core.events import LogEvent
from apps.tenancy.models import Project

logger = logging.getLogger(__name__)

# Namespace for pg_advisory_xact_lock(ns, project_id): one writer per project chain at a time.
_LOCK_NAMESPACE = 7_301
# Outbox rows chained per round trip; one batch is one multi-row INSERT and one DELETE.
_BATCH = 1_000


class _Head(NamedTuple):
    seq: int  # 0: empty chain
    mac: str  # what the next entry chains to (GENESIS for an empty chain)
    event: str | None
    key_id: str | None
    pending: bool  # the outbox held rows for the project when the lock was granted


def _signing_key() -> tuple[str, bytes]:
    key_id = settings.WARDEN_LOG_KEY_ID
    return key_id, settings.WARDEN_LOG_KEYS[key_id].encode()


@overload
def _lock_head(project_id: int, *, wait: Literal[True] = ...) -> _Head: ...
@overload
def _lock_head(project_id: int, *, wait: bool) -> _Head | None: ...
def _lock_head(project_id: int, *, wait: bool = True) -> _Head | None:
    """Takes the project's append lock and returns its head and outbox state in one round trip.

    The advisory lock serialises chain writes per project across every web and worker process and
    is held until the caller's transaction ends, so sequence numbers have no gaps and each entry
    chains to the one committed before it (see migrations 0005 and 0009 for why the head read is
    fresh). With wait=False returns None at once when another transaction holds the lock.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql.LOCK_HEAD_SQL, [_LOCK_NAMESPACE, project_id, wait])
        locked, seq, mac, event, key_id, pending = cursor.fetchone()
    if not locked:
        return None
    if seq is None:
        return _Head(0, chain.GENESIS, None, None, pending)
    return _Head(seq, mac, event, key_id, pending)


def log_payload(data: dict) -> str:
    """The canonical text stored and signed for `data`.

    Canonical text of the JSON value as it reads back (e.g. int keys become strings and sort as
    strings), so the stored payload is exactly the text that is signed and verified. Raw-SQL
    writers of outbox rows use this too, so both paths store identical text.
    """
    return chain.canonical(json.loads(chain.canonical(data)))


# No savepoint when nested: an entry that cannot be appended must abort what it records.
@transaction.atomic(savepoint=False)
def governance_log_append(*, project: Project, event: str, actor: str, data: dict) -> GovernanceLogEntry:
    """Appends one entry to the project's chain inside the caller's transaction.

    Outbox rows committed before the lock was granted (or written earlier in this transaction)
    are chained first, so an event never precedes in the log one that happened before it.
    """
    head = _lock_head(project.id)
    if head.pending:
        head = _chain_pending(project.id, head)
    now = timezone.now()
    payload = log_payload(data)
    key_id, key = _signing_key()
    # The same signer as the outbox flush: one code path builds what the chain signs.
    [(seq, prev_hash, mac)] = chain.link_rows([(ts_text(now), actor, event, payload)], key, head.mac, head.seq)
    entry = GovernanceLogEntry(
        project=project, seq=seq, created_at=now, actor=actor, event=event, payload=payload,
        prev_hash=prev_hash, mac=mac, key_id=key_id,
    )
    # A plain INSERT skips the ORM's per-field preparation.
    with connection.cursor() as cursor:
        cursor.execute(sql.ENTRY_INSERT_SQL, [project.id, seq, now, actor, event, payload, prev_hash, mac, key_id])
        entry.id = cursor.fetchone()[0]
    entry._state.adding = False
    return entry


def governance_log_defer(*, project: Project, event: str, actor: str, data: dict) -> None:
    """Records an event in the outbox inside the caller's transaction; no lock, no chain read.

    The row is chained by the next flush of the project (`log_flush_soon` after commit, the beat
    task, any direct append, or any read of the log). Its created_at becomes the entry's ts.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql.OUTBOX_DEFER_SQL, [project.id, timezone.now(), actor, event, log_payload(data)])


def _chain_pending(project_id: int, head: _Head) -> _Head:
    """Chains the project's outbox rows in id order after `head`; the caller holds the lock.

    Per batch: one SELECT, the MACs in Python, one multi-row INSERT, one DELETE (the outbox's
    trigger lets it remove only rows an entry now records). Returns the new head.
    """
    key_id, key = _signing_key()
    seq, prev, event = head.seq, head.mac, head.event
    after = 0  # keyset: the rows this transaction deleted stay in the index until it ends
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql.PENDING_SQL, [project_id, after, _BATCH])
            rows = cursor.fetchall()
            if not rows:
                break
            links = chain.link_rows((row[1:] for row in rows), key, prev, seq)
            ids = " ".join(str(row[0]) for row in rows)
            cursor.execute(sql.CHAIN_SQL, [
                key_id, ids, " ".join(str(link[0]) for link in links),
                " ".join(link[1] for link in links), " ".join(link[2] for link in links),
            ])
            if cursor.rowcount != len(rows):  # a row vanished under the lock: never leave a gap
                raise RuntimeError(f"chained {cursor.rowcount} of {len(rows)} outbox rows of project {project_id}")
            cursor.execute(sql.CHAINED_DELETE_SQL, [ids])
            after = rows[-1][0]
            seq, _prev, prev = links[-1]
            event = rows[-1][3]
            if len(rows) < _BATCH:
                break
    return _Head(seq, prev, event, key_id if seq > head.seq else head.key_id, False)


def governance_log_flush(*, project_id: int, wait: bool = True) -> int:
    """Chains the project's outbox rows; returns how many, or -1 when wait=False found the lock busy.

    Runs in its own transaction, or joins the caller's. wait=False is the background flush: it
    never queues behind a writer and commits without waiting for the WAL flush (a lost flush
    leaves its rows in the outbox, where the next one finds them). Readers use wait=True.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic(savepoint=False):
        head = _lock_head(project_id, wait=wait)
        if head is None:
            return -1
        if not head.pending:
            return 0
        if not wait and outermost:  # never relax the durability of a caller's transaction
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        return _chain_pending(project_id, head).seq - head.seq


def governance_log_flush_all() -> int:
    """Flushes every project with outbox rows (waiting for each lock); returns the rows chained."""
    project_ids = list(
        GovernanceLogOutbox.objects.order_by("project_id").values_list("project_id", flat=True).distinct()
    )
    return sum(governance_log_flush(project_id=project_id) for project_id in project_ids)


# "Flush soon": projects this process deferred entries for, flushed by the process's background
# thread (apps/core/background.py) at most once per WARDEN_LOG_FLUSH_INTERVAL seconds.
_dirty: set[int] = set()
_dirty_lock = threading.Lock()
_last_flush = float("-inf")
_flush_scheduled = False


def _forget_schedule_after_fork() -> None:  # the parent's background thread did not come along
    global _flush_scheduled
    _flush_scheduled = False


os.register_at_fork(after_in_child=_forget_schedule_after_fork)


def log_flush_soon(project_id: int) -> None:
    """Marks the project for this process's next background flush and schedules one (thread-safe).

    The flush runs WARDEN_LOG_FLUSH_INTERVAL seconds after the previous one, batching the rows
    deferred meanwhile; a negative interval only marks (the beat task and every reader still
    chain the rows).
    """
    _schedule(project_id)


def _schedule(project_id: int | None = None) -> None:
    """Marks `project_id` if given, then schedules a flush unless one is pending or none is due."""
    global _flush_scheduled
    with _dirty_lock:
        if project_id is not None:
            _dirty.add(project_id)
        interval = settings.WARDEN_LOG_FLUSH_INTERVAL
        if _flush_scheduled or not _dirty or interval < 0:
            return
        _flush_scheduled = True
        delay = max(0.0, _last_flush + interval - time.monotonic())
    background.call_later(delay, _flush_scheduled_run)


def _flush_scheduled_run() -> None:
    global _flush_scheduled
    with _dirty_lock:
        _flush_scheduled = False
    log_flush_dirty()
    _schedule()  # projects whose lock was busy stay marked: try them again after the interval


def log_flush_dirty() -> int:
    """Flushes the marked projects with wait=False; returns the rows chained.

    Nobody waits for it, so it never raises: errors are logged and the beat task catches up. A
    project whose lock was busy stays marked (its holder may be mid-flush already).
    """
    global _last_flush
    with _dirty_lock:
        # A flush that found nothing marked still starts the interval: rows deferred right after
        # it wait for the next one, as they would after a flush that chained something.
        _last_flush = time.monotonic()
        if not _dirty:
            return 0
        project_ids = sorted(_dirty)
        _dirty.clear()
    chained, busy = 0, []
    for project_id in project_ids:
        try:
            count = governance_log_flush(project_id=project_id, wait=False)
        except Exception:
            logger.exception("could not flush the governance log outbox of project %s", project_id)
            continue
        if count < 0:
            busy.append(project_id)
        else:
            chained += count
    if busy:
        with _dirty_lock:
            _dirty.update(busy)
    return chained


@transaction.atomic
def log_checkpoint(*, project: Project) -> Checkpoint | None:
    """Records the chain head (seq + hash) as a LogEvent.LOG_CHECKPOINT entry and a Checkpoint row.

    Pending outbox rows are chained first, so the checkpoint covers every committed event.
    Skips when nothing was appended since the last checkpoint, so the beat task can run often.
    Deleting entries up to the head later shows as missing entries, not as a shorter valid log.
    """
    head = _lock_head(project.id)
    if head.pending:
        head = _chain_pending(project.id, head)
    if head.seq == 0 or head.event == LogEvent.LOG_CHECKPOINT:
        return None
    entry = governance_log_append(
        project=project, event=LogEvent.LOG_CHECKPOINT, actor="system", data={"seq": head.seq, "head": head.mac}
    )
    return Checkpoint.objects.create(project=project, seq=head.seq, head_hash=head.mac, entry_seq=entry.seq)


def log_checkpoint_all() -> int:
    """Checkpoints every project that has a log; returns how many checkpoints were written."""
    with_log = GovernanceLogEntry.objects.values("project_id")
    pending = GovernanceLogOutbox.objects.values("project_id")
    written = 0
    for project in Project.objects.filter(Q(id__in=with_log) | Q(id__in=pending)).order_by("id"):
        written += log_checkpoint(project=project) is not None
    return written


@transaction.atomic
def log_key_rotated(*, project: Project, actor: str) -> GovernanceLogEntry | None:
    """Logs LogEvent.LOG_KEY_ROTATED when the signing key differs from the key of the last entry.

    The new key signs the rotation entry itself; old keys stay in WARDEN_LOG_KEYS to verify
    earlier entries. Returns None when the project's chain already uses the current key.
    The last key is read before pending outbox rows are chained (with the current key).
    """
    head = _lock_head(project.id)
    key_id, _key = _signing_key()
    if head.key_id is None or head.key_id == key_id:
        return None
    return governance_log_append(
        project=project, event=LogEvent.LOG_KEY_ROTATED, actor=actor,
        data={"previous_key_id": head.key_id, "key_id": key_id},
    )
