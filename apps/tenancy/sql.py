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
