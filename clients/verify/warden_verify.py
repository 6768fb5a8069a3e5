#!/usr/bin/env python3
"""Verify a Warden governance-log bundle without trusting the server. Standard library only.

    python3 warden_verify.py bundle.jsonl --key k1=SECRET [--key k0=OLDSECRET] [--checkpoint SEQ:HASH]
        [--checkpoint-file head.json]
    WARDEN_LOG_KEYS="k1:SECRET,k0:OLD" python3 warden_verify.py bundle.jsonl

A bundle (GET /api/v1/governance/log/export) is JSON Lines: a header, one line per entry, and a
signature line. Each entry's MAC is HMAC-SHA256(key[key_id], prev_hash + "\\n" + canonical JSON of
{seq, ts, actor, event, data}); each prev_hash is the previous entry's MAC. The signature line is
HMAC-SHA256 over the SHA-256 of every preceding byte, so dropping entries from the end of the file
is caught too. --checkpoint checks a head hash you recorded earlier (e.g. from
/api/v1/governance/log/checkpoints) so a server that rewrote its whole tail cannot pass.
Exit status 0 when everything verifies, 1 with the first broken entry otherwise, 2 on bad usage.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys

GENESIS = "0" * 64


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_mac(key: bytes, prev_hash: str, entry: dict) -> str:
    body = {k: entry[k] for k in ("seq", "ts", "actor", "event", "data")}
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(body).encode(), hashlib.sha256).hexdigest()


def parse_keys(pairs: list[str]) -> dict[str, bytes]:
    keys = {}
    for pair in pairs:
        sep = "=" if "=" in pair else ":"
        key_id, _, secret = pair.partition(sep)
        if not key_id or not secret:
            raise ValueError(f"bad key {pair!r}: use ID=SECRET")
        keys[key_id] = secret.encode()
    return keys


CHECKPOINT_FIELDS = ("type", "format", "project", "seq", "head_hash", "exported_at", "key_id")


def read_checkpoint(document: dict, keys: dict[str, bytes]) -> tuple[int, str]:
    """(seq, head_hash) of an exported checkpoint whose MAC verifies; ValueError otherwise."""
    if not isinstance(document, dict) or document.get("format") != "warden-checkpoint/1":
        raise ValueError("not a Warden checkpoint (format warden-checkpoint/1)")
    key = keys.get(str(document.get("key_id")))
    if key is None:
        raise ValueError(f"no key given for the checkpoint's key id {document.get('key_id')!r}")
    try:
        body = canonical({name: document[name] for name in CHECKPOINT_FIELDS})
    except KeyError as exc:
        raise ValueError(f"checkpoint lacks {exc}") from None
    if not hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).hexdigest(), str(document.get("mac"))):
        raise ValueError("checkpoint MAC does not verify: the document was altered")
    return int(document["seq"]), str(document["head_hash"])


def verify_bundle(lines, keys: dict[str, bytes], checkpoints: dict[int, str] | None = None) -> tuple[bool, str]:
    """Returns (ok, message). The message names the first broken entry or line."""
    digest = hashlib.sha256()
    header = None
    prev = expected = None
    checked = 0
    wanted = dict(checkpoints or {})
    signature = None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if signature is not None:
            return False, f"line {number}: content after the signature line"
        try:
            record = json.loads(raw)
        except ValueError as exc:
            return False, f"line {number}: not JSON ({exc})"
        if record.get("type") == "signature":
            signature = record
            continue
        digest.update(raw.encode() if raw.endswith("\n") else (raw + "\n").encode())
        if header is None:
            if record.get("type") != "header":
                return False, "line 1 is not a bundle header"
            header = record
            prev, expected = header["prev_hash"], header["from_seq"]
            for cp in header.get("checkpoints", []):
                wanted.setdefault(cp["seq"], cp["head_hash"])
            continue
        seq = record.get("seq")
        if seq != expected:
            return False, f"entry {expected} is missing (found {seq} on line {number})"
        if record.get("prev_hash") != prev:
            return False, f"entry {seq}: prev_hash does not match the previous entry"
        key = keys.get(record.get("key_id"))
        if key is None:
            return False, f"entry {seq}: no key given for key id {record.get('key_id')!r}"
        if not hmac.compare_digest(entry_mac(key, prev, record), record.get("mac", "")):
            return False, f"entry {seq}: MAC does not match the entry's content"
        if seq in wanted and wanted[seq] != record["mac"]:
            return False, f"entry {seq}: differs from the checkpoint head {wanted[seq][:16]}…"
        prev, expected, checked = record["mac"], expected + 1, checked + 1
    if header is None:
        return False, "empty bundle"
    if signature is None:
        return False, f"no signature line: the bundle was cut short after entry {expected - 1}"
    if signature.get("sha256") != digest.hexdigest() or signature.get("count") != checked:
        return False, f"signature line does not cover the entries present (after entry {expected - 1})"
    key = keys.get(signature.get("key_id"))
    if key is None:
        return False, f"no key given for the signature key id {signature.get('key_id')!r}"
    sig = hmac.new(key, signature["sha256"].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, signature.get("mac", "")):
        return False, "bundle signature does not verify"
    if checked and expected - 1 != header["to_seq"]:
        return False, f"entry {expected} is missing: the header promises entries up to {header['to_seq']}"
    beyond = [s for s in wanted if s > expected - 1 and s >= header["from_seq"]]
    if beyond:
        return False, f"entry {expected} is missing: a checkpoint recorded entry {max(beyond)}"
    return True, (
        f"OK: {checked} entries ({header['from_seq']}..{expected - 1}) of project {header['project']!r} "
        f"verified, head {prev}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", help="JSON Lines bundle, or - for stdin")
    parser.add_argument("--key", action="append", default=[], help="ID=SECRET (repeat for old keys)")
    parser.add_argument("--checkpoint", action="append", default=[], help="SEQ:HASH recorded earlier")
    parser.add_argument("--checkpoint-file", action="append", default=[],
                        help="a signed checkpoint exported earlier (GET /api/v1/governance/log/checkpoints/export)")
    args = parser.parse_args(argv)
    try:
        pairs = args.key or [p for p in os.environ.get("WARDEN_LOG_KEYS", "").split(",") if p]
        keys = parse_keys(pairs)
        checkpoints = {int(s): h for s, _, h in (c.partition(":") for c in args.checkpoint)}
        for path in args.checkpoint_file:
            with open(path, encoding="utf-8") as handle:
                seq, head = read_checkpoint(json.load(handle), keys)
            checkpoints[seq] = head
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not keys:
        print("error: give --key ID=SECRET or set WARDEN_LOG_KEYS", file=sys.stderr)
        return 2
    stream = sys.stdin if args.bundle == "-" else open(args.bundle, encoding="utf-8")  # noqa: SIM115
    with stream:
        ok, message = verify_bundle(stream, keys, checkpoints)
    print(message if ok else f"BROKEN: {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
