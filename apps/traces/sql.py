"""The SQL the traces app owns for writing steps: column lists and statements, shown whole here.

Writers serialise per episode on its row (see services); these statements take that row lock
themselves (NEXT_INDEX_*) or run inside a transaction that holds it (STEP_INSERT_SQL, STEP_COPY_SQL).
tests/traces/test_sql.py checks the column lists against the Step model.
"""

from apps.traces import schema

# Every traces_step column but `id`, in the order the insert, COPY and next-step statements use.
STEP_COLUMNS = (
    "project_id", "episode_id", "index", "kind", "actor", "agent", "role", "content", "tool", "arguments",
    "result", "error", "provenance", "source", "trace_id", "span_id", "parent_span_id", "started_at",
    "ended_at", "tokens_in", "tokens_out", "cost", "attributes", "digest", "created_at",
)
STEP_JSON_COLUMNS = ("arguments", "result", "attributes")
_JSON_POSITIONS = tuple((STEP_COLUMNS.index(column), column) for column in STEP_JSON_COLUMNS)
# SQL types of the columns that are not text (the next-step statement casts every parameter).
STEP_TYPES = {
    "arguments": "jsonb", "result": "jsonb", "attributes": "jsonb", "started_at": "timestamptz",
    "ended_at": "timestamptz", "tokens_in": "integer", "tokens_out": "integer", "cost": "numeric",
}

# One statement takes the episode's row lock, hands out the next index and keeps the tool and
# agent summaries current: the server-written step of every /decide pays two round trips, not four.
NEXT_INDEX_UPDATE = """
UPDATE traces_episode e
   SET step_count = e.step_count + 1,
       tools = CASE WHEN %(s_tool)s::text = '' OR %(s_tool)s::varchar = ANY(e.tools) THEN e.tools
                    ELSE array_append(e.tools, %(s_tool)s::varchar) END,
       agents = CASE WHEN NOT %(s_names_agent)s::boolean OR %(s_agent)s::text = ''
                          OR %(s_agent)s::varchar = ANY(e.agents) THEN e.agents
                     ELSE array_append(e.agents, %(s_agent)s::varchar) END,
       updated_at = %(now)s::timestamptz
 WHERE e.id = %(episode_id)s::bigint"""
NEXT_INDEX_SQL = NEXT_INDEX_UPDATE + " RETURNING e.step_count - 1, e.project_id"

STEP_INSERT_SQL = "INSERT INTO traces_step ({}) VALUES ({}) RETURNING id".format(
    ", ".join(STEP_COLUMNS), ", ".join("%s::jsonb" if c in STEP_JSON_COLUMNS else "%s" for c in STEP_COLUMNS))
STEP_COPY_SQL = f"COPY traces_step ({', '.join(STEP_COLUMNS)}) FROM STDIN"


def step_row(step: dict) -> list:
    """The STEP_COLUMNS values of a normalised step, JSON columns as the canonical text already made."""
    from psycopg.types.json import Jsonb

    texts = step.get(schema.JSON_TEXTS)
    row = [step[column] for column in STEP_COLUMNS]
    for position, column in _JSON_POSITIONS:
        if row[position] is not None:
            row[position] = texts[column] if texts else Jsonb(row[position])
    return row


def step_next_sql(*, step: dict, after: str) -> tuple[str, dict]:
    """Two CTEs that append `step` as its episode's next step inside a caller's one-statement write.

    `e` bumps the episode's step_count (its row lock orders this with every other writer of the
    episode) and returns the index taken as `idx`; `s` inserts the step there and returns its
    `index`, the digest computed in the database over the text step_digest hashes. Nothing is
    written unless the caller's CTE named `after` returned a row. The caller supplies
    `episode_id`, `project_id` and `now`; the step's own parameters are prefixed `s_`.
    The caller records the work steps_appended receivers would (or knows there is none).
    """
    step = schema.step_normalize(step, "step")
    prefix, suffix = schema.step_digest_text(step)
    texts = step[schema.JSON_TEXTS]
    values = []
    params = {"s_prefix": prefix, "s_suffix": suffix, "s_names_agent": step["actor"] in ("agent", "governance"),
              "s_tool": step["tool"], "s_agent": step["agent"]}  # the episode's summaries use these
    for column in STEP_COLUMNS:
        if column == "index":
            values.append("e.idx")
        elif column == "digest":
            values.append("encode(sha256(convert_to(%(s_prefix)s || e.idx || %(s_suffix)s, 'UTF8')), 'hex')")
        elif column == "created_at":
            values.append("%(now)s::timestamptz")
        elif column in ("project_id", "episode_id"):
            values.append(f"%({column})s::bigint")
        else:
            value = texts[column] if column in schema.JSON_FIELDS else step[column]
            if value is None or value == "":
                # Written into the SQL text: a decision step leaves most fields empty, and fewer
                # parameters keep the statement inside the driver's parsed-query cache.
                values.append("NULL" if value is None else "''")
            else:
                params[f"s_{column}"] = value
                values.append(f"%(s_{column})s::{STEP_TYPES.get(column, 'text')}")
    sql = (
        f"e AS ({NEXT_INDEX_UPDATE} AND EXISTS (SELECT 1 FROM {after}) RETURNING e.step_count - 1 AS idx),"
        f" s AS (INSERT INTO traces_step ({', '.join(STEP_COLUMNS)}) SELECT {', '.join(values)} FROM e"
        " RETURNING index)"
    )
    return sql, params
