"""PostgreSQL backend: bounded waits on the server, and a `flush` that can empty the append-only log.

Every wait on the server ends: a connection attempt after `connect_timeout` (libpq), a statement
after `statement_timeout` (the server cancels it), and, should the server stop answering at all
(frozen, or the network gone), any wait after the connection's `deadline` seconds, after which the
connection is closed, never reused. The error is an OperationalError, which apps/core/errors.py
answers with a 503. `answer_within(seconds)` shortens the deadline for a block (the health check).

The log's triggers refuse TRUNCATE. Django's test runner empties every table between
transactional tests, so a flush runs with `session_replication_role = replica`, which skips
ordinary triggers. Only a superuser may set it: the app's production role must not be one,
and then this path is closed like every other.
"""

import contextlib
from collections.abc import Iterator

import psycopg
from django.conf import settings
from django.db import connection as default_connection
from django.db.backends.postgresql import base, operations
from psycopg import errors


class DeadlineConnection(psycopg.Connection):
    deadline: float | None = None

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        try:
            return super().wait(gen, interval=interval, timeout=self.deadline if timeout is None else timeout)
        except errors._WaitTimeout:  # psycopg's own "no answer in time"; the connection's state is unknown
            self.pgconn.finish()
            raise psycopg.OperationalError(f"the database did not answer within {self.deadline:g} s") from None


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

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # psycopg.connect() builds a plain Connection; the subclass only overrides wait().
        connection.__class__ = DeadlineConnection
        connection.deadline = settings.WARDEN_DB_DEADLINE
        return connection


@contextlib.contextmanager
def answer_within(seconds: float, *, using=default_connection) -> Iterator[None]:
    """Waits on the server inside the block end after `seconds` (opening a connection first if
    there is none; an open one keeps the shorter deadline for its health check too)."""
    if using.connection is None:
        using.ensure_connection()
    raw = using.connection
    saved, raw.deadline = raw.deadline, seconds
    try:
        yield
    finally:
        raw.deadline = saved
