"""The role the app runs as reads and writes rows but cannot get around the log's append-only triggers."""

import contextlib

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from apps.audit.models import GovernanceLogEntry
from apps.audit.services import governance_log_flush
from apps.audit.verification import governance_verify
from apps.core.stack import runtime_database_url
from apps.policies import services as policy_services
from tests.audit.builders import TABLE, fill_log

POLICY = """
name: runtime
default: block
rules:
  - {tool: read_balance, effect: allow}
  - {tool: update_password, effect: deny, fallback: {action: ask}}
"""

# Each is refused to the runtime role; as the owner every one of them would succeed.
REFUSED = [
    f"ALTER TABLE {TABLE} DISABLE TRIGGER USER",
    f"ALTER TABLE {TABLE} DISABLE TRIGGER ALL",
    f"DROP TRIGGER governance_log_no_update_delete ON {TABLE}",
    "SET session_replication_role = replica",
    f"UPDATE {TABLE} SET actor = 'mallory'",
    f"DELETE FROM {TABLE}",
    f"TRUNCATE {TABLE}",
    "UPDATE governance_checkpoint SET head_hash = 'x'",
    "DELETE FROM governance_checkpoint",
    "UPDATE governance_logoutbox SET actor = 'mallory'",
    "CREATE TABLE warden_intruder (id int)",
]


def _role_name() -> str:
    # Roles belong to the whole server; several test databases share it.
    return f"{connection.settings_dict['NAME']}_app"


@contextlib.contextmanager
def acting_as(role: str):
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        try:
            yield
        finally:
            cursor.execute("RESET ROLE")


@pytest.fixture
def runtime_role(db):
    call_command("db_runtime_role", role=_role_name(), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return _role_name()


@pytest.mark.parametrize("statement", REFUSED)
def test_the_runtime_role_is_refused(statement, runtime_role, project):
    fill_log(project, 2)
    with acting_as(runtime_role), pytest.raises(DatabaseError, match="permission denied|must be owner"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert governance_verify(project=project).ok


def test_the_app_works_under_the_runtime_role(runtime_role, project, admin, make_key, api, login):
    with acting_as(runtime_role):
        policy_services.policy_publish(project=project, source=POLICY, actor=admin)
        client = api(make_key(project, scopes=["decide", "ingest", "read"]))
        call = {"episode": "ep-1", "agent": "a", "tool": "read_balance", "arguments": {}}
        assert client.post("/api/v1/decide", call, format="json").json()["verdict"] == "allow"
        asked = client.post("/api/v1/decide", {**call, "tool": "update_password"}, format="json").json()
        assert asked["verdict"] == "ask"
        steps = {"steps": [{"kind": "message", "actor": "user", "content": "hi"}]}
        assert client.post("/api/v1/episodes/ep-1/steps", steps, format="json").status_code == 200
        assert client.post("/api/v1/episodes/ep-1/end", {"status": "completed"}, format="json").status_code == 200
        governance_log_flush(project_id=project.id)  # chains the outbox, deleting its rows
        assert client.get("/api/v1/governance/log/verify").json()["ok"]
        assert login(admin).get(f"/p/{project.slug}/policies/approvals/").status_code == 200
    assert GovernanceLogEntry.objects.filter(project=project, event="decision").count() == 2


def test_the_migrating_role_is_not_a_runtime_role(db):
    with pytest.raises(CommandError, match="must not be the role running migrations"):
        call_command("db_runtime_role", role=connection.settings_dict["USER"] or "postgres")


@pytest.mark.django_db(transaction=True)
def test_a_login_as_the_runtime_role_cannot_become_the_owner_or_rewrite_the_log(project):
    role = _role_name()
    fill_log(project, 3)
    call_command("db_runtime_role", role=role, password="pw-runtime", stdout=open("/dev/null", "w"))  # noqa: SIM115
    owner_url = "postgresql://{USER}@{HOST}:{PORT}/{NAME}".format(**{
        k: connection.settings_dict[k] or d for k, d in
        (("USER", "postgres"), ("HOST", "127.0.0.1"), ("PORT", "5432"), ("NAME", ""))})
    try:
        with psycopg.connect(runtime_database_url(owner_url, role, "pw-runtime"), autocommit=True) as conn:
            assert conn.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user"
                                ).fetchone() == (role, False)
            for statement in [*REFUSED, f"SET ROLE {connection.settings_dict['USER'] or 'postgres'}"]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            assert conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (3,)
        assert governance_verify(project=project).ok
    finally:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))
