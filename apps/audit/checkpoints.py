"""Signed checkpoints to keep outside Warden, and verifying the log against one.

Checkpoints stored in the database record the head every 5 minutes, but whoever can rewrite the
log's tail as the tables' owner can rewrite those rows too. An exported checkpoint is the head
(seq and hash) as a small signed JSON document an auditor keeps elsewhere; verifying the log
against it later fails if any entry up to that seq was changed, removed or re-signed since, even
with the log key. Its MAC (HMAC-SHA256 with a log key over the canonical JSON of every other field)
shows a key holder that Warden issued it.
"""

import hashlib
import hmac

from django.conf import settings
from django.utils import timezone

from apps.audit import chain
from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.audit.verification import VerifyReport, governance_verify, log_keys
from apps.tenancy.models import Project

CHECKPOINT_FORMAT = "warden-checkpoint/1"
FIELDS = ("type", "format", "project", "seq", "head_hash", "exported_at", "key_id")


class CheckpointError(ValueError):
    """The document is not a checkpoint of this project, or its MAC does not verify."""


def _mac(body: dict, key: bytes) -> str:
    unsigned = {name: body[name] for name in FIELDS}
    return hmac.new(key, chain.canonical(unsigned).encode(), hashlib.sha256).hexdigest()


def checkpoint_export(*, project: Project) -> dict:
    """The project's head now, signed with the current log key (pending outbox rows chained first)."""
    governance_log_flush(project_id=project.id)
    head = GovernanceLogEntry.objects.filter(project=project).order_by("-seq").values_list("seq", "mac").first()
    seq, head_hash = head or (0, chain.GENESIS)
    key_id = settings.WARDEN_LOG_KEY_ID
    body = {"type": "checkpoint", "format": CHECKPOINT_FORMAT, "project": project.slug, "seq": seq,
            "head_hash": head_hash, "exported_at": timezone.now().isoformat(), "key_id": key_id}
    body["mac"] = _mac(body, settings.WARDEN_LOG_KEYS[key_id].encode())
    return body


def checkpoint_read(document: object, *, project: Project, keys: dict[str, bytes] | None = None) -> tuple[int, str]:
    """(seq, head_hash) of a checkpoint document, once it is shown to be this project's and signed."""
    keys = keys if keys is not None else log_keys()
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not a checkpoint: expected format {CHECKPOINT_FORMAT!r}")
    missing = [name for name in (*FIELDS, "mac") if name not in document]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}")
    if document["project"] != project.slug:
        raise CheckpointError(f"checkpoint of project {document['project']!r}, not {project.slug!r}")
    seq, head_hash = document["seq"], document["head_hash"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(head_hash, str):
        raise CheckpointError("checkpoint seq must be a non-negative integer and head_hash a string")
    key = keys.get(str(document["key_id"]))
    if key is None:
        raise CheckpointError(f"checkpoint signed with unknown key id {document['key_id']!r}")
    if not isinstance(document["mac"], str) or not hmac.compare_digest(_mac(document, key), document["mac"]):
        raise CheckpointError("checkpoint MAC does not verify: the document was altered")
    return seq, head_hash


def checkpoint_verify(*, project: Project, document: object, keys: dict[str, bytes] | None = None) -> VerifyReport:
    """Walks the chain with the exported head pinned: the entry at its seq must still carry its hash."""
    seq, head_hash = checkpoint_read(document, project=project, keys=keys)
    return governance_verify(project=project, keys=keys, pinned={seq: head_hash} if seq else {})
