"""A backup as docs/operations.md describes it: pg_dump, pg_restore into a fresh database, and the
governance log still verifies there (with the same keys)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from apps.audit.services import governance_log_defer, log_checkpoint
from tests.audit.builders import fill_log

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _url(name: str) -> str:
    s = connection.settings_dict
    return f"postgresql://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def test_a_dump_restored_into_a_fresh_database_still_verifies(project, other_project, tmp_path):
    fill_log(project, 20)
    log_checkpoint(project=project)
    governance_log_defer(project=project, event="decision", actor="tester", data={"pending": True})  # still in the outbox
    fill_log(other_project, 3)
    dump = tmp_path / "warden.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}",
                    _url(connection.settings_dict["NAME"])], check=True, capture_output=True, timeout=120)
    restored = f"warden_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={_url(restored)}",
                        str(dump)], check=True, capture_output=True, timeout=120)
        env = {**os.environ, "DATABASE_URL": _url(restored), "WARDEN_ALLOW_DEV_KEYS": "1"}
        out = subprocess.run([sys.executable, "manage.py", "governance_verify"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "acme: OK, 22 entries verified" in out.stdout  # 20, the checkpoint, the deferred one
        assert "globex: OK, 3 entries verified" in out.stdout
        with psycopg.connect(_url(restored), autocommit=True) as conn:  # the append-only triggers came along
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute("DELETE FROM governance_governancelogentry")
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
