"""Raw SQL for the rows /decide touches on every call.

The ORM costs up to a millisecond of CPU per query on a small node, and /decide already runs a
dozen queries through other apps' services; the policies app's own reads take one round trip
(`decide_context`) and its writes another (`decision_store`).
"""

import json
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase

from django.db import connection
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.traces.models import Episode


@dataclass
class Guard:
    untrusted: bool
    scanned_to: int
    counts: dict
    narrowings: list


@dataclass
class BoundVersion:
    id: int
    digest: str


@dataclass
class DecideContext:
    episode: Episode
    guard: Guard
    untrusted_seen: bool  # untrusted steps since the guard's last scan (or earlier)
    bindings: list  # [binding id, agent glob, environment glob, priority, version id, digest]
    decision_id: int

    def version_for(self, *, agent: str, environment: str) -> "BoundVersion | None":
        return _best_binding(self.bindings, agent, environment)


# One round trip for everything /decide reads: the episode, its guard (created on first use and
# locked: ON CONFLICT DO UPDATE takes the row lock, so one episode's decisions count in turn),
# untrusted steps written since the last scan (a range scan of the (episode, index) key), the
# project's bindings without policy sources (engines are cached by digest), and the decision id.
_CONTEXT_SQL = """
WITH e AS (
    SELECT id, status, environment, step_count, versions FROM traces_episode
    WHERE project_id = %(project)s AND external_id = %(external_id)s
), g AS (
    INSERT INTO policies_episodeguard (episode_id, project_id, untrusted, scanned_to, counts, narrowings, updated_at)
    SELECT id, %(project)s, false, 0, '{}'::jsonb, '[]'::jsonb, %(now)s FROM e
    ON CONFLICT (episode_id) DO UPDATE SET updated_at = policies_episodeguard.updated_at
    RETURNING episode_id, untrusted, scanned_to, counts, narrowings
)
SELECT e.id, e.status, e.environment, e.step_count, e.versions,
       g.untrusted, g.scanned_to, g.counts, g.narrowings,
       e.step_count > g.scanned_to AND EXISTS (
           SELECT 1 FROM traces_step s
           WHERE s.episode_id = e.id AND s.index >= g.scanned_to AND s.provenance = 'untrusted'),
       (SELECT coalesce(json_agg(json_build_array(b.id, b.agent, b.environment, b.priority, v.id, v.digest)),
                        '[]'::json)
          FROM policies_policybinding b JOIN policies_policy p ON p.id = b.policy_id
          JOIN policies_policyversion v ON v.id = p.active_version_id
         WHERE b.project_id = %(project)s),
       nextval(pg_get_serial_sequence('policies_decision', 'id')),
       CASE WHEN %(async_commit)s THEN set_config('synchronous_commit', 'off', true) END
FROM e JOIN g ON g.episode_id = e.id
"""

# WARDEN_DECIDE_ASYNC_COMMIT=1: /decide commits without waiting for the WAL flush (PostgreSQL's
# synchronous_commit=off for that transaction only). A database crash can then lose the last
# fraction of a second of decisions (never reorder or corrupt them: the governance chain still
# verifies); in exchange the fsync (milliseconds on small disks) leaves the decision's latency.
ASYNC_COMMIT = os.environ.get("WARDEN_DECIDE_ASYNC_COMMIT", "").lower() in {"1", "true", "yes", "on"}


def decide_context(*, project_id: int, external_id: str) -> DecideContext | None:
    """None when the episode does not exist yet (the caller creates it and asks again)."""
    with connection.cursor() as cursor:
        cursor.execute(_CONTEXT_SQL, {"project": project_id, "external_id": external_id, "now": timezone.now(),
                                      "async_commit": ASYNC_COMMIT})
        row = cursor.fetchone()
    if row is None:
        return None
    (episode_id, status, environment, step_count, versions, untrusted, scanned_to, counts, narrowings,
     seen, bindings, decision_id, _) = row
    # A partial instance: step_append and episode_end only need the key and these fields.
    episode = Episode(id=episode_id, project_id=project_id, external_id=external_id, status=status,
                      environment=environment, step_count=step_count, versions=_json(versions, {}))
    guard = Guard(untrusted, scanned_to, _json(counts, {}), _json(narrowings, []))
    return DecideContext(episode, guard, bool(seen), _json(bindings, []), decision_id)


def decision_store(*, row: dict, counts: dict, untrusted: bool, scanned_to: int) -> None:
    """Inserts the Decision and updates the episode's guard in one statement."""
    json_fields = ("arguments", "final_arguments", "evidence")
    values = {k: Jsonb(v) if k in json_fields else v for k, v in row.items()}
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    sql = (f"WITH d AS (INSERT INTO policies_decision ({columns}) VALUES ({marks}))"
           " UPDATE policies_episodeguard SET counts = %s, untrusted = %s, scanned_to = %s, updated_at = %s"
           " WHERE episode_id = %s")
    params = [*values.values(), Jsonb(counts), untrusted, scanned_to, timezone.now(), row["episode_id"]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _best_binding(rows: list, agent: str, environment: str) -> "BoundVersion | None":
    """Highest priority first, exact names before globs at equal priority, then the oldest binding."""
    best = None
    for binding_id, b_agent, b_env, priority, version_id, digest in rows:
        if fnmatchcase(agent or "", b_agent) and fnmatchcase(environment or "", b_env):
            key = (priority, (b_agent == agent) + (b_env == environment), -binding_id)
            if best is None or key > best[0]:
                best = (key, BoundVersion(version_id, digest))
    return best[1] if best else None


def guard_lock(*, episode: Episode) -> Guard:
    """Creates the episode's guard on first use and locks it: one upsert, one round trip.

    ON CONFLICT DO UPDATE takes the row lock, so concurrent decisions of one episode count in turn.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO policies_episodeguard"
            " (episode_id, project_id, untrusted, scanned_to, counts, narrowings, updated_at)"
            " VALUES (%s, %s, false, 0, '{}'::jsonb, '[]'::jsonb, %s)"
            " ON CONFLICT (episode_id) DO UPDATE SET updated_at = policies_episodeguard.updated_at"
            " RETURNING untrusted, scanned_to, counts, narrowings",
            [episode.pk, episode.project_id, timezone.now()],
        )
        untrusted, scanned_to, counts, narrowings = cursor.fetchone()
    # Django's backend leaves jsonb as text for the ORM to decode; decode it here.
    return Guard(untrusted, scanned_to, _json(counts, {}), _json(narrowings, []))


def _json(value, empty):
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return value or empty


def version_source(*, version_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT source FROM policies_policyversion WHERE id = %s", [version_id])
        return cursor.fetchone()[0]
