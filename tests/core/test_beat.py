"""Every periodic job the beat schedule names is a registered task, so beat never sends a dead name."""

from workers.celery_app import app


def test_beat_schedule_names_only_registered_tasks():
    app.loader.import_default_modules()
    names = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "apps.policies.tasks.approvals_expire_task" in names
    assert names <= set(app.tasks)
