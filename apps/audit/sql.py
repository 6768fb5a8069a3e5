"""The SQL the audit app owns: the governance log's statements, shown whole here.

Every statement that extends the chain runs while its transaction holds the project's append lock
(LOCK_HEAD_SQL, an advisory lock held until the transaction ends); OUTBOX_INSERT needs no lock.
tests/audit/test_sql.py checks the column lists against the models.
"""

# ts_text computed by PostgreSQL from a `created_at` column: the same text, without a datetime per row.
TS_SQL = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""

# Takes the append lock and reads the head and "anything pending?" in one round trip (governance
# migrations 0005 and 0009 say why the head it reads is fresh).
LOCK_HEAD_SQL = (
    "SELECT locked, head_seq, head_mac, head_event, head_key, pending FROM governance_log_lock_head(%s, %s, %s)"
)

ENTRY_COLUMNS = ("project_id", "seq", "created_at", "actor", "event", "payload", "prev_hash", "mac", "key_id")
ENTRY_INSERT_SQL = (f"INSERT INTO governance_governancelogentry ({', '.join(ENTRY_COLUMNS)})"
                    f" VALUES ({', '.join(['%s'] * len(ENTRY_COLUMNS))}) RETURNING id")

# The outbox row of an event (`id` defaults). Raw-SQL writers in other apps (the /decide write)
# extend OUTBOX_INSERT with their own SELECT of these columns, payload made by services.log_payload.
OUTBOX_COLUMNS = ("project_id", "created_at", "actor", "event", "payload")
OUTBOX_INSERT = f"INSERT INTO governance_logoutbox ({', '.join(OUTBOX_COLUMNS)})"
OUTBOX_DEFER_SQL = f"{OUTBOX_INSERT} VALUES ({', '.join(['%s'] * len(OUTBOX_COLUMNS))})"

PENDING_SQL = (
    f"SELECT id, {TS_SQL}, actor, event, payload FROM (SELECT * FROM governance_logoutbox"
    " WHERE project_id = %s AND id > %s ORDER BY id LIMIT %s) AS batch ORDER BY id"
)
# The entries are built from the outbox rows in the database, so only ids, seqs and hashes travel,
# each column as one space-separated string: quoting 1000-element arrays client-side costs more
# than computing the MACs.
CHAIN_SQL = """
INSERT INTO governance_governancelogentry
    (project_id, seq, created_at, actor, event, payload, prev_hash, mac, key_id, outbox_id)
SELECT o.project_id, c.seq, o.created_at, o.actor, o.event, o.payload, c.prev_hash, c.mac, %s, o.id
FROM unnest(string_to_array(%s, ' ')::bigint[], string_to_array(%s, ' ')::bigint[],
            string_to_array(%s, ' '), string_to_array(%s, ' ')) AS c(outbox_id, seq, prev_hash, mac)
JOIN governance_logoutbox o ON o.id = c.outbox_id
"""
CHAINED_DELETE_SQL = "DELETE FROM governance_logoutbox WHERE id = ANY(string_to_array(%s, ' ')::bigint[])"

# A verification walk's rows, in the order chain.verify_rows takes them.
WALK_SQL = f"""
    SELECT seq, {TS_SQL}, actor, event, payload, prev_hash, mac, key_id
    FROM governance_governancelogentry
    WHERE project_id = %s AND seq >= %s AND seq <= %s
    ORDER BY seq
"""
