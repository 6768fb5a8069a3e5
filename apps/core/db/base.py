"""PostgreSQL backend whose `flush` can empty the append-only governance log.

The log's triggers refuse TRUNCATE. Django's test runner empties every table between
transactional tests, so a flush runs with `session_replication_role = replica`, which skips
ordinary triggers. Only a superuser may set it: the app's production role must not be one,
and then this path is closed like every other.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if statements:
            statements = ["SET LOCAL session_replication_role = replica", *statements]
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
