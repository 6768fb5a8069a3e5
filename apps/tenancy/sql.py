"""The SQL the tenancy app owns: the API key read every request authenticates with.

Every API request authenticates, so this is one plain statement rather than an ORM query: building
the ORM query cost more CPU than running it. /decide embeds KEY_SQL in its own read
(policies.sql). tests/tenancy/test_sql.py checks the column lists against the models.
"""

KEY_COLUMNS = ("id", "name", "prefix", "hashed", "scopes", "expires_at", "revoked_at", "last_used_at")
PROJECT_COLUMNS = ("id", "slug", "name")
KEY_SQL = "SELECT {}, {} FROM tenancy_apikey k JOIN tenancy_project p ON p.id = k.project_id WHERE k.prefix = %s".format(
    ", ".join(f"k.{c}" for c in KEY_COLUMNS), ", ".join(f"p.{c} AS project_{c}" for c in PROJECT_COLUMNS)
)
# A KEY_SQL row: the key's columns, then the project's.
KEY_WIDTH = len(KEY_COLUMNS) + len(PROJECT_COLUMNS)
KEY_PROJECT_ID = len(KEY_COLUMNS) + PROJECT_COLUMNS.index("id")

# Idempotency keys (apps/tenancy/idempotency.py). /decide writes its key in its own one-statement
# write (policies.sql) from IDEMPOTENCY_INSERT and reads it in its context read by IDEMPOTENCY_JOIN.
IDEMPOTENCY_COLUMNS = ("project_id", "api_key_id", "key", "fingerprint", "status", "response", "created_at",
                       "expires_at")
IDEMPOTENCY_INSERT = f"INSERT INTO tenancy_idempotencykey ({', '.join(IDEMPOTENCY_COLUMNS)})"
IDEMPOTENCY_FIND_SQL = "SELECT fingerprint, status, response FROM tenancy_idempotencykey WHERE api_key_id = %s AND key = %s"


def idempotency_join(*, api_key: str, key: str) -> str:
    """A LEFT JOIN (alias `ik`) of the stored answer under `key` (an SQL text) for `api_key` (an SQL bigint)."""
    return f"LEFT JOIN tenancy_idempotencykey ik ON ik.api_key_id = {api_key} AND ik.key = {key}"
