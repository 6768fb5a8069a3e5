"""The governance log's models now belong to the audit app (audit migration 0001); state only.

The tables, their rows and their append-only triggers stay untouched.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("governance", "0009_lock_head_pending"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="GovernanceLogEntry"),
                migrations.DeleteModel(name="GovernanceLogOutbox"),
                migrations.DeleteModel(name="Checkpoint"),
            ],
            database_operations=[],
        ),
    ]
