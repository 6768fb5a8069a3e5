"""Raw SQL for the rows /decide touches on every call.

The ORM costs roughly a millisecond of CPU per query on a small node, and /decide runs a dozen
queries; the statements below are the policies app's own reads and writes, each one round trip.
"""

import json
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


def episode_find(*, project_id: int, external_id: str) -> Episode | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, status, environment, step_count, versions FROM traces_episode"
            " WHERE project_id = %s AND external_id = %s",
            [project_id, external_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    # A partial instance: step_append and episode_end only need the key and these fields.
    return Episode(id=row[0], project_id=project_id, external_id=external_id, status=row[1],
                   environment=row[2], step_count=row[3], versions=_json(row[4], {}))


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


def guard_save(*, episode_id: int, counts: dict, untrusted: bool, scanned_to: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE policies_episodeguard SET counts = %s, untrusted = %s, scanned_to = %s, updated_at = %s"
            " WHERE episode_id = %s",
            [Jsonb(counts), untrusted, scanned_to, timezone.now(), episode_id],
        )


def untrusted_since(*, episode_id: int, index: int) -> bool:
    """Untrusted content among the steps from `index` on: a range scan of the (episode, index) key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM traces_step WHERE episode_id = %s AND index >= %s"
            " AND provenance = 'untrusted')",
            [episode_id, index],
        )
        return cursor.fetchone()[0]


def bound_version(*, project_id: int, agent: str, environment: str) -> BoundVersion | None:
    """The active version for `agent` in `environment` (same rule as selectors.binding_version_for),
    without fetching the policy source: the compiled engine is cached by digest."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.id, b.agent, b.environment, b.priority, v.id, v.digest"
            " FROM policies_policybinding b JOIN policies_policy p ON p.id = b.policy_id"
            " JOIN policies_policyversion v ON v.id = p.active_version_id WHERE b.project_id = %s",
            [project_id],
        )
        rows = cursor.fetchall()
    best = None
    for binding_id, b_agent, b_env, priority, version_id, digest in rows:
        if fnmatchcase(agent or "", b_agent) and fnmatchcase(environment or "", b_env):
            key = (priority, (b_agent == agent) + (b_env == environment), -binding_id)
            if best is None or key > best[0]:
                best = (key, BoundVersion(version_id, digest))
    return best[1] if best else None


def version_source(*, version_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT source FROM policies_policyversion WHERE id = %s", [version_id])
        return cursor.fetchone()[0]


def next_decision_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('policies_decision', 'id'))")
        return cursor.fetchone()[0]


def decision_insert(**row) -> None:
    json_fields = ("arguments", "final_arguments", "evidence")
    values = {k: Jsonb(v) if k in json_fields else v for k, v in row.items()}
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO policies_decision ({columns}) VALUES ({marks})", list(values.values()))
