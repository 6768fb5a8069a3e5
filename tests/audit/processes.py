"""Entry points for OS-process tests. Nothing Django at import time: a spawned child imports this
module before it has set up Django."""

import os


def append_in_process(database_url: str, project_id: int, count: int) -> None:
    """Appends `count` entries from a fresh process with its own Django and database connection."""
    os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="apps.settings")
    import django

    django.setup()
    from apps.audit.services import governance_log_append
    from apps.tenancy.models import Project

    project = Project.objects.get(id=project_id)
    for i in range(count):
        governance_log_append(project=project, event="decision", actor=f"pid{os.getpid()}", data={"i": i})
