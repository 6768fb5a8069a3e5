"""Writes to the trace store. Every path that adds steps ends in `steps_write_normalised`.

Concurrency: writers of one episode serialise on its row (`SELECT ... FOR UPDATE`); that lock
guards the next free index (`step_count`), the idempotency check and the episode's tool/agent
summaries. Writers of different episodes never wait on each other.
"""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.tenancy.models import Project
from apps.traces import schema, signals, sql
from apps.traces.models import Episode, Step

EPISODE_FIELDS = ("title", "task", "agents", "environment", "seed", "config", "versions", "tags", "started_at",
                  "session")
# Above this many new rows COPY beats a multi-row INSERT.
COPY_THRESHOLD = 200


def send_signal(signal, **kwargs) -> None:
    """Call inside the writing transaction. Receivers record the work the write promises (an
    outbox row, apps/core/outbox.py) in that transaction, so a receiver that fails fails the write:
    stored steps never lack their checks."""
    signal.send(sender=Episode, **kwargs)


class StepConflict(Exception):
    """A step index was re-sent with different content. Nothing of the batch was written."""

    def __init__(self, index: int):
        super().__init__(f"step {index} already exists with different content")
        self.index = index


def merge_unique(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    merged = list(existing)
    seen = set(merged)
    for item in new:
        if item and item not in seen:
            merged.append(item)
            seen.add(item)
    return merged


@transaction.atomic
def episode_upsert(*, project: Project, external_id: str, **fields: Any) -> tuple[Episode, bool]:
    """Creates the episode or returns the one with this external id (created=False).

    On resume, fields given replace the stored ones, except agents and tags, which are merged,
    and status, which only `episode_end` changes.
    """
    unknown = set(fields) - set(EPISODE_FIELDS)
    if unknown:
        raise TypeError(f"episode_upsert got unknown fields: {sorted(unknown)}")
    episode = Episode.objects.filter(project=project, external_id=external_id).first()
    if episode is None:
        try:
            with transaction.atomic():
                now = timezone.now()
                episode = Episode.objects.create(
                    project=project, external_id=external_id, created_at=now, updated_at=now,
                    **{"started_at": now, **{k: v for k, v in fields.items() if v is not None}},
                )
            return episode, True
        except IntegrityError:
            # Another request created it between our read and insert: resume that one.
            episode = Episode.objects.get(project=project, external_id=external_id)
    changed = []
    for name, value in fields.items():
        if value is None:
            continue
        if name in ("agents", "tags"):
            value = merge_unique(getattr(episode, name), value)
        if getattr(episode, name) != value:
            setattr(episode, name, value)
            changed.append(name)
    if changed:
        episode.updated_at = timezone.now()
        episode.save(update_fields=[*changed, "updated_at"])
    return episode, False


def step_append(*, episode: Episode, kind: str, index: int | None = None, **fields: Any) -> Step:
    """Writes one step. index=None takes the next free index; with an index it is idempotent.

    Raises StepConflict if that index holds different content, schema.InvalidInput on bad fields.
    """
    if index is None:
        return _append_next(episode=episode, step=schema.step_normalize({"kind": kind, **fields}, "step"))
    return steps_append_batch(episode=episode, steps=[{"kind": kind, "index": index, **fields}])[0]


# No savepoint when nested: a failed append must abort the caller's whole transaction anyway.
@transaction.atomic(savepoint=False)
def _append_next(*, episode: Episode, step: dict) -> Step:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql.NEXT_INDEX_SQL, {
            "s_tool": step["tool"], "s_agent": step["agent"],
            "s_names_agent": step["actor"] in ("agent", "governance"),
            "now": now, "episode_id": episode.pk,
        })
        step["index"], project_id = cursor.fetchone()
        signals.steps_mask(project_id, [step])
        step["digest"] = schema.step_digest(step)
        step["project_id"], step["episode_id"], step["created_at"] = project_id, episode.pk, now
        step["id"] = _insert_one(cursor, step)
    signals.steps_storing.send(sender=Episode, episode=episode, steps=[step])
    _usage_add(episode=episode, steps=[step])
    episode.step_count = step["index"] + 1
    send_signal(signals.steps_appended, episode=episode, first_index=step["index"], count=1)
    row = Step(**{k: v for k, v in step.items() if k != schema.JSON_TEXTS})
    row._state.adding = False
    row.created = True
    return row


@transaction.atomic
def steps_append_batch(*, episode: Episode, steps: list[dict]) -> list[Step]:
    """Writes a batch all-or-nothing and returns its steps in batch order.

    Steps already stored with the same content are returned as they are (a re-sent batch is
    harmless); a stored index with different content raises StepConflict and writes nothing.
    Steps without an index take the next free ones, in batch order. Each returned step's
    `.created` says whether this call wrote it.
    """
    return steps_write_normalised(episode=episode, steps=_normalise_batch(steps))


def _normalise_batch(steps: list[dict]) -> list[dict]:
    if len(steps) > schema.MAX_BATCH_STEPS:
        raise schema.InvalidInput("steps", f"at most {schema.MAX_BATCH_STEPS} steps per batch")
    return [schema.step_normalize(s, f"steps[{i}]") for i, s in enumerate(steps)]


@transaction.atomic
def steps_ingest(*, episode: Episode, steps: list[dict], work: bool | None = None) -> int:
    """steps_append_batch for ingestion paths that only need how many steps were new.

    Skips building model objects, which costs more than validating the step. `work`: passed with
    steps_appended when the caller knows whether the steps need the receivers (see traces.signals).
    """
    new, _existing = _store(episode=episode, steps=_normalise_batch(steps), work=work, ids=False)
    return len(new)


@transaction.atomic
def steps_store_normalised(*, episode: Episode, steps: list[dict], work: bool | None = None) -> int:
    """steps_ingest for steps already passed through schema.step_normalize (OTLP, import, runs)."""
    new, _existing = _store(episode=episode, steps=steps, work=work, ids=False)
    return len(new)


@transaction.atomic
def steps_write_normalised(*, episode: Episode, steps: list[dict]) -> list[Step]:
    """steps_append_batch for steps already passed through schema.step_normalize."""
    new, existing = _store(episode=episode, steps=steps)
    stored = {}
    if existing:
        stored = {s.index: s for s in Step.objects.filter(episode_id=episode.pk, index__in=list(existing))}
        for row in stored.values():
            row.created = False
    rows = {}
    for step in new:
        fields = {k: v for k, v in step.items() if k != schema.JSON_TEXTS}
        row = Step(**fields)
        row.id = step.get("id")
        row._state.adding = False
        row.created = True
        rows[step["index"]] = row
    return [rows.get(s["index"]) or stored[s["index"]] for s in steps]


def _store(*, episode: Episode, steps: list[dict], work: bool | None = None, ids: bool = True
           ) -> tuple[list[dict], dict[int, str]]:
    """Locks the episode, assigns indexes, checks conflicts, writes the new steps.

    Returns (new steps as dicts, {index: digest} of those already stored with the same content).
    ids=False: the caller needs no row ids, so any batch goes through COPY (no per-row ORM work).
    """
    locked = (
        Episode.objects.select_for_update()
        .only("id", "project_id", "step_count", "tools", "agents")
        .get(pk=episode.pk)
    )
    signals.steps_mask(locked.project_id, steps)
    next_free = locked.step_count
    for step in steps:
        if step["index"] is None:
            step["index"] = next_free
            next_free += 1
        elif step["index"] >= next_free:
            next_free = step["index"] + 1
        step["digest"] = schema.step_digest(step)

    # Within the batch: the same index twice must say the same thing.
    by_index: dict[int, dict] = {}
    for step in steps:
        seen = by_index.get(step["index"])
        if seen is not None and seen["digest"] != step["digest"]:
            raise StepConflict(step["index"])
        by_index[step["index"]] = step

    # Against the store: only indexes below the old high-water mark can exist already.
    existing: dict[int, str] = {}
    maybe_stored = [i for i in by_index if i < locked.step_count]
    if maybe_stored:
        existing = dict(
            Step.objects.filter(episode_id=episode.pk, index__in=maybe_stored).values_list("index", "digest")
        )
        for index, digest in existing.items():
            if by_index[index]["digest"] != digest:
                raise StepConflict(index)

    now = timezone.now()
    new = [step for index, step in by_index.items() if index not in existing]
    for step in new:
        step["project_id"], step["episode_id"], step["created_at"] = locked.project_id, episode.pk, now
    if len(new) >= COPY_THRESHOLD or (new and not ids):
        _copy_steps(new)
    elif new:
        rows = [Step(**{k: v for k, v in step.items() if k != schema.JSON_TEXTS}) for step in new]
        Step.objects.bulk_create(rows)
        for step, row in zip(new, rows, strict=True):
            step["id"] = row.id

    if new:
        signals.steps_storing.send(sender=Episode, episode=episode, steps=new)
        tools = merge_unique(locked.tools, (s["tool"] for s in new))
        agents = merge_unique(locked.agents, (s["agent"] for s in new if s["actor"] in ("agent", "governance")))
        step_count = max(next_free, locked.step_count)
        Episode.objects.filter(pk=episode.pk).update(
            step_count=step_count, tools=tools, agents=agents, updated_at=now, **_usage(new)
        )
        episode.step_count, episode.tools, episode.agents, episode.updated_at = step_count, tools, agents, now
        first_index, count = min(s["index"] for s in new), len(new)
        send_signal(signals.steps_appended, episode=episode, first_index=first_index, count=count, work=work)
    return new, existing


def _usage(steps: list[dict]) -> dict[str, Any]:
    """The episode's token and cost sums raised by these new steps (empty when they carry none)."""
    tokens_in = sum(s["tokens_in"] or 0 for s in steps)
    tokens_out = sum(s["tokens_out"] or 0 for s in steps)
    cost = sum((Decimal(str(s["cost"])) for s in steps if s["cost"] is not None), Decimal(0))
    out: dict[str, Any] = {}
    if tokens_in:
        out["tokens_in"] = F("tokens_in") + tokens_in
    if tokens_out:
        out["tokens_out"] = F("tokens_out") + tokens_out
    if cost:
        out["cost"] = F("cost") + cost
    return out


def _usage_add(*, episode: Episode, steps: list[dict]) -> None:
    """Call holding the episode's row lock: adds the steps' tokens and cost to its sums."""
    usage = _usage(steps)
    if usage:
        Episode.objects.filter(pk=episode.pk).update(**usage)


def _insert_one(cursor, step: dict) -> int:
    """Inserts one normalised step; call holding the episode's row lock (its index is taken)."""
    cursor.execute(sql.STEP_INSERT_SQL, sql.step_row(step))
    return cursor.fetchone()[0]


def _copy_steps(steps: list[dict]) -> None:
    """Bulk insert through COPY: one round trip and no per-row SQL parsing.

    JSON columns go in as the canonical text step_normalize already produced (COPY's text format
    hands it to jsonb's input function), so no value is serialised twice. COPY returns no ids;
    readers fetch by (episode, index).
    """
    with connection.cursor() as cursor, cursor.cursor.copy(sql.STEP_COPY_SQL) as copy:
        for step in steps:
            copy.write_row(sql.step_row(step))


@transaction.atomic
def episode_end(*, episode: Episode, status: str, outcome: dict | None = None) -> Episode:
    """Ends the episode. Ending it again updates the outcome; governance's termination stays."""
    if status not in schema.END_STATUSES:
        raise schema.InvalidInput("status", f"must be one of {', '.join(schema.END_STATUSES)}")
    locked = Episode.objects.select_for_update().get(pk=episode.pk)
    previous = locked.status
    if previous == "terminated":
        status = "terminated"
    merged = {**(locked.outcome or {}), **(outcome or {})}
    now = timezone.now()
    locked.status, locked.outcome, locked.updated_at = status, merged, now
    locked.ended_at = locked.ended_at or now
    locked.save(update_fields=["status", "outcome", "ended_at", "updated_at"])
    if previous != status:
        send_signal(signals.episode_ended, episode=locked)
    return locked


def episode_violation_count_set(*, episode: Episode, count: int) -> None:
    """For the reviews app: keeps Episode.violation_count (the has-violations filter) current."""
    Episode.objects.filter(pk=episode.pk).update(violation_count=max(0, count))
