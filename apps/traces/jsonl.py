"""JSON Lines export and import of episodes. Import(export(x)) stores the same content.

One line per record:
    {"type": "episode", "external_id": ..., "title": ..., "status": ..., "started_at": ..., ...}
    {"type": "step", "episode": <external_id>, "index": 0, "kind": "message", ...}
An episode line comes before its steps. Step lines carry every field that makes up the step's
digest, so a re-imported step has the digest it had, and importing twice changes nothing.
"""

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from apps.core.jsonbody import JsonBodyError, json_parse
from apps.tenancy.models import Project
from apps.traces import schema, selectors, services
from apps.traces.models import Episode, Step

EPISODE_EXPORT_FIELDS = (
    "external_id", "title", "task", "agents", "environment", "status", "started_at", "ended_at",
    "outcome", "seed", "config", "versions", "tags",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def episode_record(episode: Episode) -> dict:
    record: dict[str, Any] = {"type": "episode"}
    for name in EPISODE_EXPORT_FIELDS:
        value = getattr(episode, name)
        record[name] = _iso(value) if isinstance(value, datetime) else value
    return record


def step_record(step: Step, external_id: str) -> dict:
    values = {name: getattr(step, name) for name in schema.STEP_FIELDS}
    return {"type": "step", "episode": external_id, **schema.step_plain(values)}


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_lines(episodes: QuerySet[Episode] | Iterable[Episode]) -> Iterator[str]:
    """Streams episodes and their steps; steps are read in keyset chunks, never all at once."""
    for episode in episodes:
        yield _line(episode_record(episode))
        for step in selectors.episode_steps_iter(episode=episode):
            yield _line(step_record(step, episode.external_id))


def _episode_fields(record: dict, where: str) -> dict:
    external_id = record.get("external_id")
    if not isinstance(external_id, str) or not external_id or len(external_id) > 200:
        raise schema.InvalidInput(f"{where}.external_id", "must be a string of 1 to 200 characters")
    status = record.get("status") or "running"
    if status not in schema.STATUSES:
        raise schema.InvalidInput(f"{where}.status", f"must be one of {', '.join(schema.STATUSES)}")
    for name in ("agents", "tags"):
        value = record.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 100 for v in value):
            raise schema.InvalidInput(f"{where}.{name}", "must be a list of short strings")
    for name in ("outcome", "config", "versions"):
        if not isinstance(record.get(name) or {}, dict):
            raise schema.InvalidInput(f"{where}.{name}", "must be an object")
    seed = record.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise schema.InvalidInput(f"{where}.seed", "must be an integer")
    return {
        "external_id": external_id,
        "title": str(record.get("title") or "")[:500],
        "task": str(record.get("task") or ""),
        "agents": record.get("agents") or [],
        "environment": str(record.get("environment") or "")[:200],
        "status": status,
        "started_at": schema.parse_time(record.get("started_at"), f"{where}.started_at"),
        "ended_at": schema.parse_time(record.get("ended_at"), f"{where}.ended_at"),
        "outcome": record.get("outcome") or {},
        "seed": seed,
        "config": record.get("config") or {},
        "versions": record.get("versions") or {},
        "tags": record.get("tags") or [],
    }


@transaction.atomic
def traces_import(*, project: Project, lines: Iterable[str | bytes]) -> dict:
    """Imports JSON Lines into `project` all-or-nothing; returns counts.

    Steps whose index already holds different content raise services.StepConflict.
    """
    episodes: dict[str | None, Episode] = {}
    pending: list[dict] = []
    pending_for: Episode | None = None

    def flush() -> None:
        nonlocal pending
        if pending and pending_for is not None:
            services.steps_store_normalised(episode=pending_for, steps=pending)
        pending = []

    steps_seen = 0
    for number, raw in enumerate(lines, start=1):
        where = f"line {number}"
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            record = json_parse(text)
        except JsonBodyError as exc:
            raise schema.InvalidInput(where if exc.field == "body" else f"{where}.{exc.field}", exc.message) from None
        if not isinstance(record, dict) or record.get("type") not in ("episode", "step"):
            raise schema.InvalidInput(f"{where}.type", "must be 'episode' or 'step'")
        if record["type"] == "episode":
            flush()
            fields = _episode_fields(record, where)
            external_id = fields["external_id"]
            episodes[external_id] = _episode_import(project=project, fields=fields)
            continue
        external_id = record.get("episode")
        episode = episodes.get(external_id)
        if episode is None:
            raise schema.InvalidInput(f"{where}.episode", "no episode line for this external id before it")
        if episode is not pending_for or len(pending) >= schema.MAX_BATCH_STEPS:
            flush()
            pending_for = episode
        step = {k: v for k, v in record.items() if k not in ("type", "episode")}
        pending.append(schema.step_normalize(step, where))
        steps_seen += 1
    flush()
    return {"episodes": len(episodes), "steps": steps_seen}


def _episode_import(*, project: Project, fields: dict) -> Episode:
    external_id = fields.pop("external_id")
    status, ended_at, outcome = fields.pop("status"), fields.pop("ended_at"), fields.pop("outcome")
    episode, _ = services.episode_upsert(project=project, external_id=external_id, **fields)
    # Restore the ending as recorded, not as of now; no episode_ended signal for history.
    Episode.objects.filter(pk=episode.pk).update(status=status, ended_at=ended_at, outcome=outcome)
    episode.status, episode.ended_at, episode.outcome = status, ended_at, outcome
    return episode
