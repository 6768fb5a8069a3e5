"""The Celery app: queues, routing and the beat schedule live here, tasks live in apps/*/tasks.py."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.settings")

app = Celery("warden")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "apps.contracts.*": {"queue": "checks"},
}
app.conf.beat_schedule = {}
app.autodiscover_tasks()


@worker_process_init.connect
def _instrument_worker(**_kwargs) -> None:
    from apps.telemetry import instrument

    instrument(service_name="warden-worker")
