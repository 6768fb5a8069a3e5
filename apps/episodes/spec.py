"""Run specs: what a run plays (environment, agents, regime, seed, rounds, faults, versions).

Pure Python (no Django): the API, the Runs page and `manage.py episode_run` all read a spec through
`spec_parse` + `spec_normalize`, so one spec has one digest whichever way it arrived. Structure is
checked with a JSON Schema; what an environment or agent accepts beyond that is checked by building
it (apps.episodes.registry). Every refusal is a SpecError naming the field, e.g. `agents[1].kind` (`spec` for the text itself).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import fastjsonschema

from apps.core.documents import DocumentError, load_document, plain
from apps.episodes.environments.base import SpecError  # one error type for specs and the parts they build

MAX_SPEC_CHARS = 200_000
REGIMES = ("ungoverned", "constitutional", "institutional")
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_ROUNDS = 100_000
# A path under examples/: policies/<dirs>/<name>.yaml, no '..', no absolute path.
POLICY_FILE_PATTERN = "^policies/([A-Za-z0-9][A-Za-z0-9_-]*/)*[A-Za-z0-9][A-Za-z0-9_-]*\\.yaml$"

_NAME = {"type": "string", "pattern": NAME_PATTERN}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["environment", "agents"],
    "additionalProperties": False,
    "properties": {
        "id": {**_NAME, "description": "the run id (idempotency key); made up when left out"},
        "title": {"type": "string", "maxLength": 200},
        "environment": {
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "maxLength": 100}},
            # The environment's own parameters: the registry checks them by building it.
        },
        "agents": {
            "type": "array", "minItems": 1, "maxItems": 32,
            "items": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"type": "string", "maxLength": 100}, "name": _NAME},
            },
        },
        "regime": {"enum": list(REGIMES)},
        "constitution": {"type": "string", "maxLength": 20_000},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "rounds": {"type": "integer", "minimum": 1, "maximum": MAX_ROUNDS},
        # Checked by what they configure: the fault injector and the trainer (errors name their fields).
        "faults": {"type": "object"},
        "training": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "rounds": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                "block": {"type": "integer", "minimum": 1, "maximum": 100_000},
                "window": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
            },
        },
        "versions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "policy": {"type": "string", "minLength": 1, "maxLength": 100},
                # An example policy under examples/policies/, published on first use (institutional only).
                "policy_file": {"type": "string", "pattern": POLICY_FILE_PATTERN, "maxLength": 200},
                "graph": {"type": "string", "minLength": 1, "maxLength": 200},
                "contracts": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100},
                              "maxItems": 50, "uniqueItems": True},
            },
        },
    },
}
_validate = fastjsonschema.compile(SCHEMA)


def spec_parse(text: str) -> dict[str, Any]:
    """The spec document in `text`: YAML or JSON (YAML's safe loader reads both)."""
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError("spec", f"at most {MAX_SPEC_CHARS} characters")
    try:  # the bounded loader every document goes through: no alias bomb, no duplicate key
        data = plain(load_document(text, syntax="not valid YAML or JSON").data)
    except DocumentError as exc:
        raise SpecError("spec", str(exc)) from None
    if not isinstance(data, dict):
        raise SpecError("spec", "must be a mapping with environment, agents, regime, ...")
    return data


def spec_normalize(data: dict[str, Any]) -> dict[str, Any]:
    """The spec with defaults filled in; raises SpecError naming the first offending field.

    Agents without a name are named by the registry (as their environment requires); names must be unique.
    """
    try:
        _validate(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _schema_error(exc, data) from None
    spec = json.loads(json.dumps(data))  # a deep copy with JSON types only
    spec.setdefault("regime", "ungoverned")
    spec.setdefault("seed", 0)
    from apps.episodes.registry import agents_name

    agents_name(spec)
    seen: set[str] = set()
    for position, agent in enumerate(spec["agents"]):
        if agent["name"] in seen:
            raise SpecError(f"agents[{position}].name", f"'{agent['name']}' is used twice")
        seen.add(agent["name"])
    versions = spec.get("versions") or {}
    if "policy" in versions and "policy_file" in versions:
        raise SpecError("versions.policy_file", "name a published policy or an example file, not both")
    if "constitution" in spec and spec["regime"] != "constitutional":
        raise SpecError("constitution", "only the constitutional regime adds a constitution")
    return spec


def spec_digest(spec: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a normalised spec, without its id."""
    body = {k: v for k, v in spec.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _schema_error(exc: fastjsonschema.JsonSchemaValueException, data: Any) -> SpecError:
    path = [p for p in exc.path[1:]]
    if exc.rule == "additionalProperties":
        node, value = _schema_at(path), _value_at(data, path)
        known = set((node or {}).get("properties", {}))
        extra = sorted(k for k in value if k not in known) if isinstance(value, dict) else []
        if extra:
            return SpecError(_field([*path, extra[0]]), f"unknown field; use {', '.join(sorted(known))}")
    if exc.rule == "required":
        value = _value_at(data, path)
        missing = [k for k in exc.rule_definition if not (isinstance(value, dict) and k in value)]
        if missing:
            return SpecError(_field([*path, missing[0]]), "is required")
    message = exc.message.removeprefix(exc.name).strip() or "is invalid"
    return SpecError(_field(path) or "spec", message)


def _field(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if str(part).isdigit() else (f".{part}" if out else str(part))
    return out


def _schema_at(path: list) -> dict | None:
    node: dict | None = SCHEMA
    for part in path:
        if node is None:
            return None
        node = node.get("items") if str(part).isdigit() else node.get("properties", {}).get(part)
    return node


def _value_at(data: Any, path: list) -> Any:
    for part in path:
        data = data[int(part)] if str(part).isdigit() and isinstance(data, list) else data.get(part)
    return data
