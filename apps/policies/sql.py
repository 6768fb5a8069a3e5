"""The SQL the policies app owns: the two statements of a routine /decide, and the guard's.

A routine decision costs two statements. `decide_context` reads everything the engine needs
without taking a lock; `decision_write` stores the decision, its step, the guard and the
governance-log outbox row in one statement, which commits by itself. The guard's `rev` makes the
pair safe without a lock: the write happens only if no other decision of the episode was stored
in between; otherwise the caller reads again and decides again.

Each statement is assembled from fragments their owners keep (tenancy.sql: the API key read;
traces.sql: the next step; audit.sql: the outbox row; traces.signals: receivers' work conditions)
and is shown whole in tests/policies/golden/, where a test checks it against what is built here.
The context read also names governance_agentstate and the policies_* tables; the column lists below
are checked against the models by tests/policies/test_sql.py.
"""

import functools
import json
import os
from typing import Any

from django.db import connection
from psycopg.types.json import Jsonb

from apps.audit.sql import OUTBOX_INSERT
from apps.core.outbox import OUTBOX_INSERT as TASK_OUTBOX_INSERT
from apps.core.outbox import first_due
from apps.policies.models import EpisodeGuard
from apps.policies.records import (
    NO_GUARD,
    DecideContext,
    DecisionRecord,
    DecisionRow,
    Guard,
    GuardWrite,
    Prefetched,
)
from apps.tenancy.idempotency import Claim, Stored, expires_at
from apps.tenancy.sql import IDEMPOTENCY_INSERT, KEY_PROJECT_ID, KEY_SQL, KEY_WIDTH, idempotency_join
from apps.traces.models import Episode
from apps.traces.signals import steps_work_sql
from apps.traces.sql import step_next_sql


def compact(sql: str) -> str:
    """One space for each run of white space: the driver caches parsing of statements under 4 kB."""
    return " ".join(sql.split())


# The rows of an episode's provenance index (models.ProvenanceValue) for some values, and the rows of
# its untrusted sources (`source:<name>`, a key range under the C collation). Read by selectors.
# EpisodeProvenance when a condition asks for what /decide's context read did not fetch.
PROVENANCE_COLUMNS = ("value", "trusted_step", "trusted_source", "untrusted_step", "untrusted_source")
PROVENANCE_READ_SQL = compact(f"""
SELECT {', '.join(PROVENANCE_COLUMNS)}
  FROM policies_provenancevalue
 WHERE episode_id = %(episode)s::bigint
   AND (value = ANY(%(values)s::text[]) OR (%(sources)s AND value >= 'source:' AND value < 'source;'))
""")
# The same rows as one JSON array, inside the context read: the call's values (NULL: none asked for).
_PROVENANCE_CONTEXT = f"""
(SELECT json_agg(json_build_array({', '.join('pv.' + c for c in PROVENANCE_COLUMNS)}))
   FROM policies_provenancevalue pv
  WHERE %(provenance)s::text[] IS NOT NULL AND pv.episode_id = e.id
    AND (pv.value = ANY(%(provenance)s::text[]) OR (pv.value >= 'source:' AND pv.value < 'source;')))"""

# One round trip, no lock, for everything /decide reads: the episode, its guard, untrusted steps
# written since the guard's last scan (a range scan of the (episode, index) key), the project's
# bindings without policy sources (engines are cached by digest), the agent's governance state,
# whether the new step needs the steps_appended receivers' work (their registered conditions: today
# "the project checks runtime contracts"), the decision id, the answer already stored under the
# call's idempotency key if it sent one (tenancy.sql), and, when the policy in force has provenance
# conditions for the tool, the index rows of the call's values and the episode's untrusted sources. `src` names the project: given, or the
# project of the API key with the given prefix, whose columns then lead the row (the lean /decide
# path authenticates with this same round trip; nothing is used before the key is checked).
_CONTEXT_SQL = """
SELECT {key_columns} e.id, e.status, e.environment, e.step_count, e.versions,
       g.untrusted, g.scanned_to, g.counts, g.narrowings, g.rev,
       e.step_count > coalesce(g.scanned_to, 0) AND EXISTS (
           SELECT 1 FROM traces_step s
           WHERE s.episode_id = e.id AND s.index >= coalesce(g.scanned_to, 0) AND s.provenance = 'untrusted'),
       (SELECT coalesce(json_agg(json_build_array(b.id, b.agent, b.environment, b.priority, v.id, v.digest)),
                        '[]'::json)
          FROM policies_policybinding b JOIN policies_policy p ON p.id = b.policy_id
          JOIN policies_policyversion v ON v.id = p.active_version_id
         WHERE b.project_id = src.project_id),
       a.state, a.suspended, a.revoked_tools, a.arg_bounds,
       {runtime},
       nextval(pg_get_serial_sequence('policies_decision', 'id')),
       ik.fingerprint, ik.status, ik.response,
       {provenance}
  FROM src
  LEFT JOIN traces_episode e ON e.project_id = src.project_id AND e.external_id = %(external_id)s::text
  LEFT JOIN policies_episodeguard g ON g.episode_id = e.id
  LEFT JOIN governance_agentstate a ON a.project_id = src.project_id AND a.agent = %(agent)s::text
  {idempotency}
"""


@functools.cache
def context_sql(*, by_key: bool) -> str:
    """The context statement; built on first use, once every app has registered its work condition."""
    if by_key:
        src, key_columns, api_key = KEY_SQL.replace("%s", "%(prefix)s::text"), "src.*,", "src.id"
    else:
        src, key_columns, api_key = "SELECT %(project)s::bigint AS project_id", "", "%(api_key)s::bigint"
    return compact(f"WITH src AS ({src})" + _CONTEXT_SQL.format(
        key_columns=key_columns, runtime=steps_work_sql("src.project_id"), provenance=_PROVENANCE_CONTEXT,
        idempotency=idempotency_join(api_key=api_key, key="%(idempotency_key)s::text")))


# WARDEN_DECIDE_ASYNC_COMMIT=1: /decide commits without waiting for the WAL flush (PostgreSQL's
# synchronous_commit=off for that transaction only). A database crash can then lose the last
# fraction of a second of decisions (never reorder or corrupt them: the governance chain still
# verifies); in exchange the fsync (milliseconds on small disks) leaves the decision's latency.
ASYNC_COMMIT = os.environ.get("WARDEN_DECIDE_ASYNC_COMMIT", "").lower() in {"1", "true", "yes", "on"}
_ASYNC_SQL = "CASE WHEN %(async_commit)s THEN set_config('synchronous_commit', 'off', true) END"


def decide_context(*, project_id: int, external_id: str, agent: str, claim: Claim | None = None,
                   provenance: list[str] | None = None) -> DecideContext | None:
    """None when the episode does not exist yet (the caller creates it and asks again). Takes no lock.

    `provenance`: values whose index rows to read along (with the episode's untrusted sources).
    """
    params: dict[str, Any] = {"project": project_id, "external_id": external_id, "agent": agent,
                              "api_key": claim.api_key_id if claim else None,
                              "idempotency_key": claim.key if claim else None, "provenance": provenance}
    with connection.cursor() as cursor:
        cursor.execute(context_sql(by_key=False), params)
        row = cursor.fetchone()
    return _context(project_id, external_id, row, provenance)


def decide_context_by_key(*, prefix: str, external_id: str, agent: str, idempotency_key: str | None = None,
                          provenance: list[str] | None = None) -> tuple[tuple | None, DecideContext | None]:
    """(KEY_SQL columns of the key with this prefix, or None; the context as decide_context gives it).

    The caller must check the key (tenancy.auth.key_check) before using the context. Takes no lock.
    """
    params = {"prefix": prefix, "external_id": external_id, "agent": agent, "idempotency_key": idempotency_key,
              "provenance": provenance}
    with connection.cursor() as cursor:
        cursor.execute(context_sql(by_key=True), params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    key, rest = row[:KEY_WIDTH], row[KEY_WIDTH:]
    return key, _context(key[KEY_PROJECT_ID], external_id, rest, provenance)


def _context(project_id: int, external_id: str, row, provenance: list[str] | None = None) -> DecideContext | None:
    if row is None or row[0] is None:
        return None
    (episode_id, status, environment, step_count, versions, untrusted, scanned_to, counts, narrowings, rev,
     seen, bindings, state, suspended, revoked, bounds, runtime, decision_id, i_fingerprint, i_status, i_response,
     provenance_rows) = row
    # A partial instance: step_append and episode_end only need the key and these fields.
    episode = Episode(id=episode_id, project_id=project_id, external_id=external_id, status=status,
                      environment=environment, step_count=step_count, versions=_json(versions, {}))
    guard = Guard(bool(untrusted), scanned_to or 0, _json(counts, {}), _json(narrowings, []),
                  NO_GUARD if rev is None else rev)
    governance = {"state": state, "suspended": bool(suspended), "revoked_tools": list(revoked or ()),
                  "arg_bounds": _json(bounds, {})}
    prior = None if i_fingerprint is None else Stored(i_fingerprint, i_status, _json(i_response, {}))
    fetched = None if provenance is None else Prefetched(provenance, _json(provenance_rows, []))
    return DecideContext(episode, guard, bool(seen), _json(bindings, []), decision_id, governance, bool(runtime),
                         prior, fetched)


GUARD_COLUMNS = ("episode_id", "project_id", "untrusted", "scanned_to", "counts", "narrowings", "updated_at", "rev")
# Writes the guard only if it is still the one the decision was made on (`rev`), creating it on
# an episode's first decision. Returns no row when another decision got there first.
_GUARD_SQL = f"""
INSERT INTO policies_episodeguard AS eg ({', '.join(GUARD_COLUMNS)})
VALUES (%(episode_id)s::bigint, %(project_id)s::bigint, %(g_untrusted)s::boolean, %(g_scanned_to)s::integer,
        %(g_counts)s::jsonb, '[]'::jsonb, %(now)s::timestamptz, 1)
ON CONFLICT (episode_id) DO UPDATE
   SET untrusted = EXCLUDED.untrusted, scanned_to = EXCLUDED.scanned_to, counts = EXCLUDED.counts,
       updated_at = EXCLUDED.updated_at, rev = eg.rev + 1
 WHERE eg.rev = %(g_rev)s::bigint
RETURNING eg.episode_id"""

# Column -> SQL type of every policies_decision column (records.DecisionRow has the same keys).
DECISION_COLUMNS = {
    "id": "bigint", "project_id": "bigint", "episode_id": "bigint", "step_index": "integer", "agent": "text",
    "kind": "text", "tool": "text", "arguments": "jsonb", "final_arguments": "jsonb", "verdict": "text", "outcome": "text",
    "status": "text", "rule": "text", "message": "text", "policy_version_id": "bigint", "policy_digest": "text",
    "tier": "text", "evidence": "jsonb", "created_at": "timestamptz", "latency_us": "integer",
}
_JSON_COLUMNS = tuple(c for c, t in DECISION_COLUMNS.items() if t == "jsonb")

# The decision's governance-log event, as audit.services.governance_log_defer would record it.
_OUTBOX_SQL = (f"{OUTBOX_INSERT} SELECT %(project_id)s::bigint, %(now)s::timestamptz, %(o_actor)s::text,"
               " 'decision', %(o_payload)s::text")
# The tasks the new step calls for (traces.signals.steps_work_tasks; none for most allows), each
# called as task(episode_id, step index), in the task outbox (apps/core/outbox.py) with the decision.
_TASKS_SQL = (f"{TASK_OUTBOX_INSERT} SELECT w.task, jsonb_build_array(%(episode_id)s::bigint, s.index),"
              " %(now)s::timestamptz, %(t_due)s::timestamptz, 0"
              " FROM s, unnest(%(t_tasks)s::text[]) AS w(task) RETURNING id, task")
# The call's idempotency key, when it sent one; its answer is the decision (api.decision_data shows it).
_IDEMPOTENCY_SQL = (f"{IDEMPOTENCY_INSERT} SELECT %(project_id)s::bigint, %(k_api_key)s::bigint, %(k_key)s::text,"
                    " %(k_fingerprint)s::text, 200, jsonb_build_object('decision_id', d.id), %(now)s::timestamptz,"
                    " %(k_expires)s::timestamptz FROM d WHERE %(k_key)s::text IS NOT NULL")


def _guard_params(*, row: DecisionRow, guard: GuardWrite, rev: int) -> dict:
    return dict(episode_id=row["episode_id"], project_id=row["project_id"], now=guard.now,
                g_untrusted=guard.untrusted, g_scanned_to=guard.scanned_to, g_counts=Jsonb(guard.counts), g_rev=rev,
                async_commit=ASYNC_COMMIT)


def _decision_params(row: DecisionRow, *, skip: str = "") -> dict:
    return {f"d_{k}": Jsonb(v) if k in _JSON_COLUMNS else v for k, v in row.items() if k != skip}


_DECISION_INSERT = f"INSERT INTO policies_decision ({', '.join(DECISION_COLUMNS)})"
_DECISION_VALUES = ", ".join(f"%(d_{c})s::{t}" for c, t in DECISION_COLUMNS.items())
_DECISION_FROM_STEP = ", ".join("s.index" if c == "step_index" else f"%(d_{c})s::{t}"
                                for c, t in DECISION_COLUMNS.items())


@functools.lru_cache(maxsize=64)
def write_sql(step_sql: str) -> str:
    """The one-statement write around a step's CTEs (which vary only with the step's empty fields)."""
    return compact(f"WITH g AS ({_GUARD_SQL}), {step_sql},"
                   f" d AS ({_DECISION_INSERT} SELECT {_DECISION_FROM_STEP} FROM s RETURNING id),"
                   f" o AS ({_OUTBOX_SQL} FROM d), k AS ({_IDEMPOTENCY_SQL}), t AS ({_TASKS_SQL})"
                   f" SELECT s.index, {_ASYNC_SQL}, (SELECT json_agg(json_build_array(t.id, t.task)) FROM t) FROM s")


def decision_write(*, record: DecisionRecord, log_payload: str, tasks: list[str]
                   ) -> tuple[int, list[tuple[int, str]]] | None:
    """Stores a routine decision in one statement; None if the guard moved, else its step index and
    the (outbox row id, task) of each of `tasks` promised with it (publish them after commit).

    Call outside a transaction: the statement commits by itself and takes no lock but the
    episode row's (traces.sql.step_next_sql) for its own duration. Guard, next step (index taken
    in the database), Decision, log outbox row, idempotency key and the task outbox rows of `tasks`
    (each called as task(episode_id, step index)) are written together or not at all. A key another
    call took first fails the statement (IntegrityError, tenancy.idempotency.key_taken).
    """
    row = record.row
    step_sql, params = step_next_sql(step=record.step, after="g")
    params.update(_guard_params(row=row, guard=record.guard, rev=record.context.guard.rev))
    params.update(_decision_params(row, skip="step_index"), o_actor=record.actor, o_payload=log_payload)
    claim = record.call.idempotency
    params.update(k_api_key=claim.api_key_id if claim else None, k_key=claim.key if claim else None,
                  k_fingerprint=claim.fingerprint if claim else None,
                  k_expires=expires_at(record.guard.now) if claim else None,
                  t_tasks=tasks or None, t_due=first_due(record.guard.now))
    with connection.cursor() as cursor:
        cursor.execute(write_sql(step_sql), params)
        written = cursor.fetchone()
    if written is None:
        return None
    return written[0], [(row_id, task) for row_id, task in _json(written[2], [])]


def guard_write(*, row: DecisionRow, guard: GuardWrite, rev: int) -> bool:
    """The guard part of decision_write alone: False if it moved. Call holding guard_lock's row lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_GUARD_SQL}, {_ASYNC_SQL}", _guard_params(row=row, guard=guard, rev=rev))
        return cursor.fetchone() is not None


def decision_insert(*, row: DecisionRow) -> None:
    """Inserts the Decision row inside the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_DECISION_INSERT} VALUES ({_DECISION_VALUES})", _decision_params(row))


def guard_lock(*, episode: Episode) -> Guard:
    """Creates the episode's guard on first use and locks its row until the transaction ends.

    Call inside a transaction. For writers other than routine /decide (approvals, narrowings, the
    transactional decision write): they bump `rev` when they write, so a decision read before them
    is made again.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO policies_episodeguard ({', '.join(GUARD_COLUMNS)})"
            " VALUES (%s, %s, false, 0, '{}'::jsonb, '[]'::jsonb, now(), 0)"
            " ON CONFLICT (episode_id) DO UPDATE SET updated_at = policies_episodeguard.updated_at"
            " RETURNING untrusted, scanned_to, counts, narrowings, rev",
            [episode.pk, episode.project_id],
        )
        untrusted, scanned_to, counts, narrowings, rev = cursor.fetchone()
    # Django's backend leaves jsonb as text for the ORM to decode; decode it here.
    return Guard(untrusted, scanned_to, _json(counts, {}), _json(narrowings, []), rev)


def _json(value, empty):
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return value or empty


def version_source(*, version_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT source FROM policies_policyversion WHERE id = %s", [version_id])
        return cursor.fetchone()[0]


def guard_row_locked(*, episode: Episode) -> EpisodeGuard:
    """guard_lock, returning the locked row as a model instance (approvals, narrowings). Call inside a transaction."""
    guard_lock(episode=episode)
    return EpisodeGuard.objects.get(episode=episode)
