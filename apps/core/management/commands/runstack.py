"""`make run`: services, migrations, demo data, then web + Celery worker + beat in the foreground."""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from kombu import Connection

from apps.core.stack import database_broker_url, resolve_services, runtime_database_url


class Command(BaseCommand):
    help = ("Start Warden with demo data: web app, Celery worker and beat; a child that crashes is "
            "restarted. Ctrl-C stops all of them.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("WARDEN_PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true", help="skip the demo data")

    # The children run the checks; with the development keys this runner lets them through (below).
    requires_system_checks: list[str] = []

    def handle(self, *args, port: int, no_seed: bool, **options):
        var_dir = settings.BASE_DIR / "var"
        env = dict(os.environ, **resolve_services(var_dir, say=self.stdout.write))
        if not settings.WARDEN_PRODUCTION and ("DJANGO_SECRET_KEY" not in env or "WARDEN_LOG_KEYS" not in env):
            self.stdout.write("Development keys (a local demo): set DJANGO_SECRET_KEY and WARDEN_LOG_KEYS "
                              "for anything else; WARDEN_PRODUCTION=1 refuses the defaults.")
            env["WARDEN_ALLOW_DEV_KEYS"] = "1"
        python = sys.executable
        manage = [python, str(settings.BASE_DIR / "manage.py")]

        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        if not no_seed:
            subprocess.run([*manage, "seed_demo"], env=env, check=True)
        env.update(self.runtime_role(env, manage, var_dir))

        commands = {
            "web": [python, "-m", "gunicorn", "apps.wsgi:application", "--bind", f"127.0.0.1:{port}",
                    "--workers", os.environ.get("WEB_CONCURRENCY", "3"), "--threads", "8",
                    "--access-logfile", "-"],
            "worker": [python, "-m", "celery", "-A", "workers.celery_app", "worker", "-l", "info",
                       "-Q", "default,checks,episodes", "--concurrency", "2"],
            "beat": [python, "-m", "celery", "-A", "workers.celery_app", "beat", "-l", "info",
                     "--schedule", str(var_dir / "celerybeat-schedule")],
        }
        processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(f"\nWarden is running at http://127.0.0.1:{port}/  (Ctrl-C stops it)\n"))

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        restarts = {name: Restarts() for name in commands}
        try:
            while not stopping:
                for name, proc in list(processes.items()):
                    if proc.poll() is None:
                        restarts[name].running()
                    elif restarts[name].due():
                        # One crashed child must not take the others down: start it again, waiting
                        # longer each time it crashes soon after starting.
                        self.stderr.write(f"{name} exited with {proc.returncode}; restarting it")
                        processes[name] = subprocess.Popen(commands[name], env=env)
                        restarts[name].started()
                time.sleep(0.5)
        finally:
            for proc in processes.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in processes.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


    def runtime_role(self, env: dict, manage: list[str], var_dir: Path) -> dict:
        """Migrations ran as the tables' owner; web and workers run as a role that owns nothing
        (WARDEN_DB_ROLE, default warden_app; empty: stay the owner), so they cannot switch the
        governance log's triggers off. Returns the URLs the children use."""
        role = os.environ.get("WARDEN_DB_ROLE", "warden_app")
        if not role:
            self.stdout.write("WARDEN_DB_ROLE is empty: the app runs as the role that owns the tables.")
            return {}
        password = os.environ.get("WARDEN_DB_ROLE_PASSWORD") or _stored_password(var_dir / "db-role-password")
        if env["CELERY_BROKER_URL"].startswith("sqla+"):
            # kombu creates its tables on first use: let the owner create them, the role then uses them.
            with Connection(env["CELERY_BROKER_URL"]) as broker:
                broker.default_channel.session.close()
        subprocess.run([*manage, "db_runtime_role", "--role", role, "--password", password], env=env, check=True)
        urls = {"DATABASE_URL": runtime_database_url(env["DATABASE_URL"], role, password)}
        if env["CELERY_BROKER_URL"].startswith("sqla+"):
            urls["CELERY_BROKER_URL"] = database_broker_url(urls["DATABASE_URL"])
        return urls


def _stored_password(path: Path) -> str:
    """A password made once per checkout and kept under var/ (readable by its owner only)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


class Restarts:
    """When to restart a crashed child: at once the first time, then waiting twice as long after
    each crash that follows a short run (up to MAX_DELAY), back to at once after a long run."""

    MAX_DELAY = 30.0
    STABLE_SECONDS = 60.0

    def __init__(self) -> None:
        self.delay, self.since, self.exited = 0.0, time.monotonic(), None

    def running(self) -> None:
        if time.monotonic() - self.since > self.STABLE_SECONDS:
            self.delay = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if self.exited is None:
            self.exited = now
        return now - self.exited >= self.delay

    def started(self) -> None:
        self.delay = min(max(self.delay * 2, 1.0), self.MAX_DELAY)
        self.since, self.exited = time.monotonic(), None
