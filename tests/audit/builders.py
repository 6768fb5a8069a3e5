"""Builders for governance-log tests: fill a log, tamper with it the way a superuser could."""

from django.db import connection

from apps.audit.services import governance_log_append, governance_log_defer

TABLE = "governance_governancelogentry"


def fill_log(project, count: int, event: str = "decision") -> None:
    for i in range(count):
        governance_log_append(project=project, event=event, actor="tester", data={"i": i, "tool": "send_money"})


def defer_log(project, count: int, event: str = "decision", actor: str = "tester") -> None:
    for i in range(count):
        governance_log_defer(project=project, event=event, actor=actor, data={"i": i})


def as_superuser(sql: str, params=(), table: str = TABLE) -> None:
    """Runs `sql` with the append-only triggers switched off, then switches them back on."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush pending FK checks so ALTER may run
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
