"""The database role the app runs as: it owns nothing, so it cannot switch the log's triggers off.

Run as the role that owns the tables (the one `migrate` uses), after every `migrate`:

    manage.py db_runtime_role [--role warden_app] [--password SECRET]

Then start the web app and the workers with DATABASE_URL naming that role. It may read and write
rows (SELECT, INSERT, UPDATE, DELETE on the app's tables, the sequences behind them), nothing else:
no UPDATE or DELETE on the governance log and its checkpoints, no UPDATE of the log outbox (whose
DELETE a trigger limits to chained rows). Not being the owner, it cannot `ALTER TABLE … DISABLE
TRIGGER`; not being a superuser, it cannot set `session_replication_role` either.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import ProgrammingError, connection, transaction
from psycopg import errors, sql

from apps.audit.models import Checkpoint, GovernanceLogEntry, GovernanceLogOutbox

# Rows nobody rewrites: the triggers refuse it too, the missing privilege stops it one step earlier.
NO_UPDATE_DELETE = (GovernanceLogEntry._meta.db_table, Checkpoint._meta.db_table)
NO_UPDATE = (GovernanceLogOutbox._meta.db_table,)
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


def runtime_role_grant(*, role: str, password: str | None = None, schema: str = "public") -> None:
    """Creates `role` (or resets its attributes) and grants it row access only. Idempotent."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        owner, database = cursor.fetchone()
        if role == owner:
            raise CommandError(f"the runtime role must not be the role running migrations ({owner!r})")
        name = sql.Identifier(role)
        with transaction.atomic():
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                try:
                    with transaction.atomic():
                        cursor.execute(sql.SQL("CREATE ROLE {} " + ROLE_ATTRIBUTES).format(name))
                except ProgrammingError as exc:  # created meanwhile by a concurrent run
                    if not isinstance(exc.__cause__, errors.DuplicateObject):
                        raise
            cursor.execute(sql.SQL("ALTER ROLE {} " + ROLE_ATTRIBUTES).format(name))
            if password:
                cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
            cursor.execute(
                "SELECT string_agg(relname, ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE pg_get_userbyid(c.relowner) = %s AND n.nspname = %s", [role, schema])
            owned = cursor.fetchone()[0]
            if owned:
                raise CommandError(f"role {role!r} owns {owned}: a runtime role must own nothing")
            ident = {"role": name, "schema": sql.Identifier(schema), "db": sql.Identifier(database)}
            for statement in (
                "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
                "REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
                "GRANT USAGE ON SCHEMA {schema} TO {role}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            ):
                cursor.execute(sql.SQL(statement).format(**ident))
            for table in NO_UPDATE_DELETE:
                cursor.execute(sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), name))
            for table in NO_UPDATE:
                cursor.execute(sql.SQL("REVOKE UPDATE ON {} FROM {}").format(sql.Identifier(table), name))


class Command(BaseCommand):
    help = ("Create (or update) the database role the app runs as and grant it row access only; run it "
            "as the tables' owner after every migrate.")

    def add_arguments(self, parser):
        parser.add_argument("--role", default="warden_app")
        parser.add_argument("--password", default=None, help="set the role's password (default: leave it)")

    def handle(self, *args, role: str, password: str | None, **options):
        runtime_role_grant(role=role, password=password)
        self.stdout.write(f"role {role!r}: row access to the app's tables, no rewriting of the governance log")
