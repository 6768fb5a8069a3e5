"""`make run` finds PostgreSQL and Redis, or stands in for them so a machine with only Python runs Warden."""

import psycopg
import pytest

from apps.core import stack


def test_database_broker_uses_sqlalchemy_transport_on_same_tcp_database():
    assert stack.database_broker_url("postgres://postgres@127.0.0.1:5432/warden") == (
        "sqla+postgresql+psycopg://postgres@127.0.0.1:5432/warden"
    )


def test_database_broker_passes_socket_directory_as_host_parameter():
    assert stack.database_broker_url("postgres://postgres@%2Fsrv%2Fpg/warden") == (
        "sqla+postgresql+psycopg://postgres@/warden?host=/srv/pg"
    )


def test_explicit_services_are_used_as_given(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    env = stack.resolve_services(tmp_path, say=lambda _msg: None)
    assert env == {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
    }


def test_missing_explicit_database_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(stack, "wait_for", lambda url, port, seconds: False)
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/warden")
    with pytest.raises(SystemExit, match="nothing answers at postgres@127.0.0.1:1"):
        stack.resolve_services(tmp_path, say=lambda _msg: None)


@pytest.mark.integration
def test_without_postgres_or_redis_run_starts_private_postgres_and_database_broker(monkeypatch, tmp_path):
    said = []
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setattr(stack, "DEFAULT_DATABASE_URL", "postgres://postgres@127.0.0.1:1/warden")
    monkeypatch.setattr(stack, "DEFAULT_BROKER_URL", "redis://127.0.0.1:1/0")
    env = stack.resolve_services(tmp_path / "var", say=said.append)
    assert "starting a private one under var/pg" in said[0]
    assert "database as its broker" in said[1]
    assert env["CELERY_BROKER_URL"].startswith("sqla+postgresql+psycopg://")
    socket_dir = str(tmp_path / "var" / "pg")
    with psycopg.connect(dbname="warden", user="postgres", host=socket_dir) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("warden",)


@pytest.mark.integration
def test_configured_database_that_does_not_exist_yet_is_created(monkeypatch, tmp_path):
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "warden_stack_test" WITH (FORCE)')
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/warden_stack_test")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
    stack.resolve_services(tmp_path, say=lambda _msg: None)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/warden_stack_test") as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("warden_stack_test",)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE "warden_stack_test" WITH (FORCE)')


def test_runtime_url_names_the_runtime_role_instead_of_the_owner():
    assert stack.runtime_database_url("postgres://postgres:secret@db:5432/warden", "warden_app", "p@ss") == (
        "postgres://warden_app:p%40ss@db:5432/warden"
    )
    assert stack.runtime_database_url("postgres://postgres@%2Fsrv%2Fpg/warden", "warden_app", None) == (
        "postgres://warden_app@%2Fsrv%2Fpg/warden"
    )
