"""The Celery app for real-worker tests: every task routed to the test's own queue (WARDEN_TEST_QUEUE),
so a worker the test starts never takes another test's messages, nor they its."""

import os

from workers.celery_app import app

app.conf.update(task_routes={"*": {"queue": os.environ["WARDEN_TEST_QUEUE"]}})
