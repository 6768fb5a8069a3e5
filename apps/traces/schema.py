"""Step and episode shapes as plain Python: validation, normalisation and the content digest.

No Django import: the batch API, OTLP ingestion, JSONL import and server-written steps (decisions)
all pass through `step_normalize`, so one step has one digest whichever way it arrived. A
hand-written validator rather than a DRF serializer because ingestion validates thousands of steps
a second and serializers cost tens of microseconds per field.
"""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("message", "action", "observation", "decision")
ACTORS = ("agent", "user", "tool", "environment", "governance")
PROVENANCES = ("trusted", "untrusted")
STATUSES = ("running", "completed", "failed", "terminated")
END_STATUSES = ("completed", "failed", "terminated")

# Limits. A request beyond them is refused whole with a message naming the field.
MAX_BATCH_STEPS = 5_000
MAX_CONTENT_CHARS = 200_000
MAX_ERROR_CHARS = 20_000
MAX_JSON_CHARS = 500_000  # arguments, result, attributes each, serialised
MAX_INDEX = 1_000_000  # steps are numbered 0 .. MAX_INDEX within an episode

STR_LIMITS = {
    "agent": 200, "role": 32, "tool": 200, "source": 100,
    "trace_id": 32, "span_id": 16, "parent_span_id": 16,
    "content": MAX_CONTENT_CHARS, "error": MAX_ERROR_CHARS,
}
JSON_FIELDS = ("arguments", "result", "attributes")
TIME_FIELDS = ("started_at", "ended_at")
INT_FIELDS = ("tokens_in", "tokens_out")
STEP_FIELDS = (
    "index", "kind", "actor", "agent", "role", "content", "tool", "arguments", "result", "error",
    "provenance", "source", "trace_id", "span_id", "parent_span_id", "started_at", "ended_at",
    "tokens_in", "tokens_out", "cost", "attributes",
)
# What the digest covers: everything a step says, not where or when the server stored it.
SCALAR_FIELDS = tuple(name for name in STEP_FIELDS if name not in JSON_FIELDS)
# step_normalize leaves each JSON field's canonical text under this key (not a model field).
JSON_TEXTS = "_json_texts"

COST_QUANTUM = Decimal("0.000001")
MAX_COST = Decimal("99999999")


class InvalidInput(ValueError):
    """Bad input; `field` is the path of the offending value, e.g. `steps[3].tool`."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(field, "not an ISO 8601 date-time") from None
    else:
        raise InvalidInput(field, "must be an ISO 8601 date-time string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _str(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if len(value) > limit:
        raise InvalidInput(field, f"longer than {limit} characters")
    if "\x00" in value:
        raise InvalidInput(field, "contains a NUL character")
    return value


_STEP_FIELD_SET = frozenset(STEP_FIELDS)
_SORTED_SCALARS = tuple(sorted(SCALAR_FIELDS))

# Canonical JSON: sorted keys, compact, UTF-8 as is. Built once: json.dumps with options builds
# an encoder per call, which shows at thousands of steps a second.
_CANON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))
_FLAT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def json_text(value: Any, field: str) -> str:
    """The value's canonical JSON, checked for size and NUL (which jsonb cannot hold)."""
    try:
        text = _CANON.encode(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, "must be JSON (no NaN or infinity)") from None
    if len(text) > MAX_JSON_CHARS:
        raise InvalidInput(field, f"larger than {MAX_JSON_CHARS} characters of JSON")
    if "\\u0000" in text:
        raise InvalidInput(field, "contains a NUL character")
    return text


def step_normalize(data: Any, where: str = "step") -> dict:
    """Returns the step with every field present, typed and bounded; raises InvalidInput.

    `index` may be None (the server assigns the next free one). Unknown keys are refused so a
    typo in a field name is not silently dropped; free data belongs in `attributes`.
    """
    if not isinstance(data, dict):
        raise InvalidInput(where, "must be an object")
    unknown = data.keys() - _STEP_FIELD_SET
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"{where}.{name}", "unknown field; put free data in attributes")
    out: dict[str, Any] = {}
    index = data.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_INDEX):
        raise InvalidInput(f"{where}.index", f"must be an integer from 0 to {MAX_INDEX}")
    out["index"] = index
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"{where}.kind", f"must be one of {', '.join(KINDS)}")
    out["kind"] = kind
    actor = data.get("actor") or "agent"
    if actor not in ACTORS:
        raise InvalidInput(f"{where}.actor", f"must be one of {', '.join(ACTORS)}")
    out["actor"] = actor
    provenance = data.get("provenance") or "trusted"
    if provenance not in PROVENANCES:
        raise InvalidInput(f"{where}.provenance", f"must be one of {', '.join(PROVENANCES)}")
    out["provenance"] = provenance
    get = data.get
    for name, limit in STR_LIMITS.items():
        value = get(name)
        if value is None:
            out[name] = ""
        elif type(value) is str and len(value) <= limit and "\x00" not in value:
            out[name] = value
        else:
            out[name] = _str(value, f"{where}.{name}", limit)
    texts = {}
    for name in JSON_FIELDS:
        value = get(name)
        if name == "attributes":
            value = {} if value is None else value
            if not isinstance(value, dict):
                raise InvalidInput(f"{where}.attributes", "must be an object")
        if value is None:
            texts[name] = "null"
        elif not value and isinstance(value, dict):
            texts[name] = "{}"
        else:
            texts[name] = json_text(value, f"{where}.{name}")
        out[name] = value
    # Kept for the digest and for COPY, so each JSON value is serialised once.
    out[JSON_TEXTS] = texts
    for name in TIME_FIELDS:
        value = get(name)
        if value is None or (type(value) is datetime and value.tzinfo is UTC):
            out[name] = value
        else:
            out[name] = parse_time(value, f"{where}.{name}")
    for name in INT_FIELDS:
        value = get(name)
        if value is not None and (type(value) is not int or not 0 <= value < 2**31):
            raise InvalidInput(f"{where}.{name}", "must be a non-negative integer")
        out[name] = value
    cost = get("cost")
    out["cost"] = None if cost is None else _cost(cost, f"{where}.cost")
    return out


def _cost(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InvalidInput(field, "must be a number")
    try:
        cost = Decimal(str(value)).quantize(COST_QUANTUM)
    except InvalidOperation:
        raise InvalidInput(field, "must be a number") from None
    if not cost.is_finite() or abs(cost) > MAX_COST:
        raise InvalidInput(field, "out of range")
    return cost


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return format(value.quantize(COST_QUANTUM), "f")
    return value


def step_digest(step: dict) -> str:
    """SHA-256 of a normalised step: canonical JSON of its scalar fields, then of each JSON field."""
    get = step.get
    # Keys in sorted order and scalar values only, so the unsorted encoder gives canonical JSON.
    scalars = {name: get(name) for name in _SORTED_SCALARS}
    for name in ("started_at", "ended_at", "cost"):
        if scalars[name] is not None:
            scalars[name] = _plain(scalars[name])
    texts = get(JSON_TEXTS) or {name: _CANON.encode(get(name)) for name in JSON_FIELDS}
    body = "\n".join([_FLAT.encode(scalars), *(texts[name] for name in JSON_FIELDS)])
    return hashlib.sha256(body.encode()).hexdigest()


_BEFORE_INDEX = tuple(n for n in _SORTED_SCALARS if n < "index")
_AFTER_INDEX = tuple(n for n in _SORTED_SCALARS if n > "index")


def step_digest_text(step: dict) -> tuple[str, str]:
    """What step_digest hashes, split around the index: prefix + str(index) + suffix.

    For a writer that learns the index inside the database (the next free one), so it can
    hash the same text there: sha256(prefix || index || suffix) equals step_digest.
    """
    get = step.get
    before = {name: _plain(get(name)) if name in _TEXTUAL_SCALARS else get(name) for name in _BEFORE_INDEX}
    after = {name: _plain(get(name)) if name in _TEXTUAL_SCALARS else get(name) for name in _AFTER_INDEX}
    texts = get(JSON_TEXTS) or {name: _CANON.encode(get(name)) for name in JSON_FIELDS}
    prefix = _FLAT.encode(before)[:-1] + ',"index":'
    suffix = "," + _FLAT.encode(after)[1:]
    return prefix, "\n".join([suffix, *(texts[name] for name in JSON_FIELDS)])


_TEXTUAL_SCALARS = frozenset(("started_at", "ended_at", "cost"))


def step_plain(step: dict) -> dict:
    """A normalised step as JSON-ready values (ISO times, cost as a string)."""
    return {name: _plain(step.get(name)) for name in STEP_FIELDS}
