"""The keyed hash chain behind the governance log. Pure Python: no Django import.

Each entry's MAC is HMAC-SHA256(key, prev_hash + "\\n" + canonical JSON of the entry body).
The entry's hash (what the next entry chains to) is its MAC, so editing, removing or
reordering any entry breaks every later link, and without the key nobody can re-forge them.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no insignificant white space, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_body(*, seq: int, ts: str, actor: str, event: str, data: Mapping[str, Any]) -> dict:
    return {"seq": seq, "ts": ts, "actor": actor, "event": event, "data": data}


def mac(*, key: bytes, prev_hash: str, body: Mapping[str, Any]) -> str:
    message = prev_hash.encode() + b"\n" + canonical(body).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def verify(entries: Iterable[Mapping[str, Any]], keys: Mapping[str, bytes], *, start_prev: str = GENESIS,
           start_seq: int = 1) -> tuple[int, Break | None]:
    """Walks entries in order; returns (entries checked, first break or None).

    Each entry is a mapping with seq, ts, actor, event, data, prev_hash, mac, key_id.
    """
    prev = start_prev
    expected = start_seq
    checked = 0
    for e in entries:
        seq = e["seq"]
        if seq != expected:
            return checked, Break(expected, f"entry {expected} is missing (found {seq})")
        if e["prev_hash"] != prev:
            return checked, Break(seq, "prev_hash does not match the previous entry")
        key = keys.get(e["key_id"])
        if key is None:
            return checked, Break(seq, f"unknown key id {e['key_id']!r}")
        body = entry_body(seq=seq, ts=e["ts"], actor=e["actor"], event=e["event"], data=e["data"])
        if not hmac.compare_digest(mac(key=key, prev_hash=prev, body=body), e["mac"]):
            return checked, Break(seq, "MAC does not match the entry's content")
        prev = e["mac"]
        expected += 1
        checked += 1
    return checked, None
