"""The Celery app: queues, routing and the beat schedule live here, tasks live in apps/*/tasks.py."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apps.settings")

app = Celery("warden")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "apps.contracts.*": {"queue": "checks"},
    "apps.reviews.tasks.episode_steps_task": {"queue": "checks"},
    "apps.episodes.tasks.run_execute_task": {"queue": "episodes"},
    "apps.experiments.tasks.search_run_task": {"queue": "episodes"},
}
# Read here, not from Django settings: this module loads while the settings are being imported.
_SWEEP_SECONDS = float(os.environ.get("WARDEN_OUTBOX_SWEEP_SECONDS", "10"))
app.conf.beat_schedule = {
    # policies: an ask nobody answered takes the policy's default at its deadline
    "policies-approvals-expire": {"task": "apps.policies.tasks.approvals_expire_task", "schedule": 10.0},
    # governance: record the log head (truncation evidence); catch up the Oracle and decay tiers
    "governance-log-checkpoint": {"task": "apps.audit.tasks.log_checkpoint_task", "schedule": 300.0},
    # governance: chain decision entries left in the outbox (web processes flush them sooner);
    # a run nobody picked up within its period is dropped, the next one does the same work
    "governance-log-outbox-flush": {
        "task": "apps.audit.tasks.log_outbox_flush_task", "schedule": 5.0, "options": {"expires": 5.0},
    },
    "governance-oracle-sweep": {"task": "apps.governance.tasks.oracle_sweep_task", "schedule": 300.0},
    # contracts: what-if jobs whose worker was lost are restarted or failed
    "contracts-whatif-sweep": {"task": "apps.contracts.tasks.whatif_sweep_task", "schedule": 30.0,
                               "options": {"expires": 30.0}},
    # core: tasks a write promised that have not succeeded within their lease are published again
    "core-outbox-sweep": {
        "task": "apps.core.tasks.outbox_sweep_task", "schedule": _SWEEP_SECONDS,
        "options": {"expires": _SWEEP_SECONDS},
    },
    # tenancy: idempotency keys past their retention (WARDEN_IDEMPOTENCY_TTL_HOURS) are deleted
    "tenancy-idempotency-purge": {"task": "apps.tenancy.tasks.idempotency_purge_task", "schedule": 3600.0,
                                  "options": {"expires": 3600.0}},
    # episodes: resume runs whose worker went away (a lost task, a killed worker)
    "episodes-runs-sweep": {"task": "apps.episodes.tasks.runs_sweep_task", "schedule": 60.0, "options": {"expires": 60.0}},
    # experiments: count finished trials and dispatch more where an advance was lost
    "experiments-sweep": {"task": "apps.experiments.tasks.experiments_sweep_task", "schedule": 30.0,
                          "options": {"expires": 30.0}},
}
app.autodiscover_tasks()


@worker_process_init.connect
def _instrument_worker(**_kwargs) -> None:
    from apps.telemetry import instrument

    instrument(service_name="warden-worker")


@worker_init.connect
@beat_init.connect
def _refuse_unsafe_start(**_kwargs) -> None:
    from apps.core.checks import refuse_unsafe_start

    refuse_unsafe_start()
