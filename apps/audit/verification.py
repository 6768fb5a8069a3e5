"""Walking and exporting the governance log; the keys come from settings.

Both first chain the project's pending outbox rows (governance_log_flush), so they cover every
committed event; past that they only read. Verification streams rows through a server-side
cursor and builds each signed message from the stored canonical payload (no JSON parse per row),
so a million entries take seconds.
"""

import contextlib
import hashlib
import hmac
import itertools
import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import chain, sql
from apps.audit.models import Checkpoint, GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.tenancy.models import Project

BUNDLE_FORMAT = "warden-governance-log/1"
_FETCH = 20_000
_cursor_ids = itertools.count(1)  # named cursors must differ when two walks share a connection


def log_keys() -> dict[str, bytes]:
    return {key_id: secret.encode() for key_id, secret in settings.WARDEN_LOG_KEYS.items()}


@dataclass
class VerifyReport:
    project: str
    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None = None
    reason: str | None = None
    checkpoint_seq: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        if self.ok:
            head = f"head #{self.head_seq} {self.head_hash[:16]}…" if self.head_seq and self.head_hash else "empty log"
            return f"{self.project}: OK, {self.checked} entries verified, {head}"
        return f"{self.project}: BROKEN at entry {self.broken_seq}: {self.reason} ({self.checked} entries verified before it)"


def _stream_rows(project_id: int, first: int, last: int) -> Generator[list[tuple], None, None]:
    """Rows in seq order through a named (server-side) cursor, fetched in large batches.

    A helper thread fetches the next batch while the caller checks this one, so PostgreSQL
    producing rows and Python computing HMACs overlap instead of taking turns.
    """
    batches: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch(cursor) -> None:
        try:
            while not stop.is_set():
                batch = cursor.fetchmany(_FETCH)
                batches.put(batch)
                if not batch:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            batches.put(exc)

    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name=f"govlog_walk_{project_id}_{next(_cursor_ids)}") as cursor:
            cursor.execute(sql.WALK_SQL, [project_id, first, last], binary=True)
            worker = threading.Thread(target=fetch, args=(cursor,), daemon=True)
            worker.start()
            try:
                while True:
                    batch = batches.get()
                    if isinstance(batch, BaseException):
                        raise batch
                    if not batch:
                        return
                    yield batch
            finally:
                stop.set()
                while worker.is_alive():  # unblock a producer waiting on a full queue
                    with contextlib.suppress(queue.Empty):
                        batches.get(timeout=0.05)
                worker.join()


def governance_verify(*, project: Project, keys: dict[str, bytes] | None = None,
                      pinned: dict[int, str] | None = None, chain_pending: bool = True) -> VerifyReport:
    """Walks the project's whole chain; reports the first broken or missing entry.

    Checkpoints catch a truncated tail: each one names a seq that must exist with that hash.
    `pinned` adds heads kept outside the database (an exported checkpoint, see checkpoint_check):
    whoever rewrote the stored ones along with the log cannot have rewritten those.
    chain_pending=False walks only what is chained already, writing nothing (a page's read).
    """
    keys = keys if keys is not None else log_keys()
    if chain_pending:
        governance_log_flush(project_id=project.id)
    checkpoints = dict(Checkpoint.objects.filter(project=project).values_list("seq", "head_hash"))
    checkpoints.update(pinned or {})
    walk = chain.RowWalk()
    with contextlib.closing(_stream_rows(project.id, 1, 2**62)) as batches:
        for batch in batches:
            chain.verify_rows(batch, keys, walk, checkpoints)
            if walk.brk is not None:
                break
    head_seq = walk.expected - 1 if walk.checked else None
    head_hash = walk.prev if walk.checked else None
    report = VerifyReport(project=project.slug, ok=True, checked=walk.checked, head_seq=head_seq, head_hash=head_hash)
    if checkpoints:
        report.checkpoint_seq = max(checkpoints)
    if walk.brk is not None:
        report.ok, report.broken_seq, report.reason = False, walk.brk.seq, walk.brk.reason
        return report
    if checkpoints and max(checkpoints) > (head_seq or 0):
        missing = (head_seq or 0) + 1
        report.ok, report.broken_seq = False, missing
        report.reason = (
            f"entry {missing} is missing: a checkpoint recorded the head at entry {max(checkpoints)}, "
            f"the log ends at {head_seq or 0} (tail truncated)"
        )
    return report


def _prev_hash_before(project: Project, seq: int) -> str:
    if seq <= 1:
        return chain.GENESIS
    row = GovernanceLogEntry.objects.filter(project=project, seq=seq - 1).values_list("mac", flat=True).first()
    return row or chain.GENESIS


def log_export_lines(*, project: Project, from_seq: int = 1, to_seq: int | None = None) -> Iterator[str]:
    """A signed JSON Lines bundle of entries from_seq..to_seq (inclusive).

    Line 1 is a header (project, range, the prev_hash the first entry chains to, checkpoints in
    range); then one line per entry with `data` embedded verbatim as the signed canonical text;
    the last line signs the SHA-256 of every preceding byte with the current log key.
    `clients/verify/warden_verify.py` checks it with nothing but the standard library and the key.
    """
    governance_log_flush(project_id=project.id)
    head = GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values_list("seq", flat=True).first()
    to_seq = min(to_seq or head or 0, head or 0)
    from_seq = max(from_seq, 1)
    checkpoints = [
        {"seq": seq, "head_hash": h}
        for seq, h in Checkpoint.objects.filter(project=project, seq__gte=from_seq, seq__lte=to_seq)
        .order_by("seq")
        .values_list("seq", "head_hash")
    ]
    header = {
        "type": "header", "format": BUNDLE_FORMAT, "project": project.slug, "from_seq": from_seq,
        "to_seq": to_seq, "prev_hash": _prev_hash_before(project, from_seq),
        "exported_at": timezone.now().isoformat(), "checkpoints": checkpoints,
    }
    digest = hashlib.sha256()
    count, last_mac = 0, header["prev_hash"]

    def emit(text: str) -> str:
        line = text + "\n"
        digest.update(line.encode())
        return line

    yield emit(chain.canonical(header))
    if to_seq >= from_seq:
        for batch in _stream_rows(project.id, from_seq, to_seq):
            for seq, ts, actor, event, payload, prev_hash, mac, key_id in batch:
                head_part = chain.canonical({"seq": seq, "ts": ts, "actor": actor, "event": event})[:-1]
                tail = chain.canonical({"prev_hash": prev_hash, "mac": mac, "key_id": key_id})[1:]
                yield emit(f'{head_part},"data":{payload},{tail}')
                count, last_mac = count + 1, mac
    key_id = settings.WARDEN_LOG_KEY_ID
    sha = digest.hexdigest()
    signature = hmac.new(settings.WARDEN_LOG_KEYS[key_id].encode(), sha.encode(), hashlib.sha256).hexdigest()
    yield chain.canonical(
        {"type": "signature", "count": count, "head_hash": last_mac, "sha256": sha, "key_id": key_id,
         "mac": signature}
    ) + "\n"
