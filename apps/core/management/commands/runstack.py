"""`make run`: services, migrations, demo data, then web + Celery worker + beat in the foreground."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.stack import resolve_services


class Command(BaseCommand):
    help = ("Start Warden with demo data: web app, Celery worker and beat; a child that crashes is "
            "restarted. Ctrl-C stops all of them.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("WARDEN_PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true", help="skip the demo data")

    def handle(self, *args, port: int, no_seed: bool, **options):
        var_dir = settings.BASE_DIR / "var"
        env = dict(os.environ, **resolve_services(var_dir, say=self.stdout.write))
        python = sys.executable
        manage = [python, str(settings.BASE_DIR / "manage.py")]

        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        if not no_seed:
            subprocess.run([*manage, "seed_demo"], env=env, check=True)

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
