"""The keyed hash chain behind the governance log. Pure Python: no Django import.

Each entry's MAC is HMAC-SHA256(key, prev_hash + "\\n" + canonical JSON of the entry body).
The entry's hash (what the next entry chains to) is its MAC, so editing, removing or
reordering any entry breaks every later link, and without the key nobody can re-forge them.
"""

import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no insignificant white space, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def _messages() -> Callable[[str, int, str, str, str, str], bytes]:
    """A builder of the signed message of an entry: prev_hash, a newline and the canonical JSON of
    {seq, ts, actor, event, data}, put together around the already canonical payload (keys in
    sorted order: actor, data, event, seq, ts); ts is stored ISO text, which needs no escaping.
    It keeps the JSON text of each actor and event name, as a log repeats a few of them."""
    names: dict[str, str] = {}

    def message(prev: str, seq: int, ts: str, actor: str, event: str, payload: str) -> bytes:
        a = names.get(actor)
        if a is None:
            a = names[actor] = json.dumps(actor, ensure_ascii=False)
        e = names.get(event)
        if e is None:
            e = names[event] = json.dumps(event, ensure_ascii=False)
        return f'{prev}\n{{"actor":{a},"data":{payload},"event":{e},"seq":{seq},"ts":"{ts}"}}'.encode()

    return message


def link_rows(rows: Iterable[tuple[Any, ...]], key: bytes, prev: str, seq: int) -> list[tuple[int, str, str]]:
    """Chains new entries after the head (seq, prev): rows are (ts, actor, event, payload) in order.

    Returns (seq, prev_hash, mac) per row, signed over the message verify_rows rebuilds (_messages).
    """
    digest = hmac.digest
    message = _messages()
    links = []
    for ts, actor, event, payload in rows:
        seq += 1
        mac = digest(key, message(prev, seq, ts, actor, event, payload), "sha256").hex()
        links.append((seq, prev, mac))
        prev = mac
    return links


@dataclass
class RowWalk:
    """The state of a verification walk, so a long chain can be checked in streamed chunks."""

    prev: str = GENESIS
    expected: int = 1
    checked: int = 0
    brk: Break | None = None


def verify_rows(rows: Iterable[tuple[Any, ...]], keys: Mapping[str, bytes], walk: RowWalk,
                watch: Mapping[int, str] | None = None) -> RowWalk:
    """Walks stored rows (seq, ts, actor, event, payload, prev_hash, mac, key_id) in seq order.

    Stops at the first break. `watch` maps seqs to the head hash a checkpoint recorded there;
    a mismatch is a break at that seq. The per-row work is one HMAC and a string build.
    """
    if walk.brk is not None:
        return walk
    prev, expected, checked = walk.prev, walk.expected, walk.checked
    watch = watch or {}
    digest = hmac.digest
    message = _messages()
    brk = None
    for seq, ts, actor, event, payload, prev_hash, entry_mac, key_id in rows:
        if seq != expected:
            brk = Break(expected, f"entry {expected} is missing (found {seq})")
            break
        if prev_hash != prev:
            brk = Break(seq, "prev_hash does not match the previous entry")
            break
        key = keys.get(key_id)
        if key is None:
            brk = Break(seq, f"unknown key id {key_id!r}")
            break
        if digest(key, message(prev, seq, ts, actor, event, payload), "sha256").hex() != entry_mac:
            brk = Break(seq, "MAC does not match the entry's content")
            break
        if seq in watch and watch[seq] != entry_mac:
            brk = Break(seq, "entry differs from the head a checkpoint recorded")
            break
        prev = entry_mac
        expected += 1
        checked += 1
    walk.prev, walk.expected, walk.checked, walk.brk = prev, expected, checked, brk
    return walk
