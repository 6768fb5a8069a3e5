"""The governance log's models move from the governance app to audit; the tables stay where they are.

State only: the tables (with their triggers and the lock-and-head function) were created by
governance migrations 0001-0009 and keep their names through `db_table`, so nothing is dropped,
copied or re-created. Governance migration 0010 removes the models from the governance app's state.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("tenancy", "0001_initial"),
        ("governance", "0009_lock_head_pending"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="GovernanceLogEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("actor", models.CharField(max_length=200)),
                ("event", models.CharField(max_length=100)),
                ("payload", models.TextField()),
                ("prev_hash", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64)),
                ("key_id", models.CharField(max_length=32)),
                ("outbox_id", models.BigIntegerField(blank=True, null=True)),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenancy.project")),
            ],
            options={
                "db_table": "governance_governancelogentry",
                "ordering": ["project_id", "seq"],
                "indexes": [models.Index(fields=["project", "event", "seq"], name="govlog_project_event")],
                "constraints": [
                    models.UniqueConstraint(fields=("project", "seq"), name="govlog_project_seq_unique"),
                    models.UniqueConstraint(condition=models.Q(("outbox_id__isnull", False)), fields=("outbox_id",), name="govlog_outbox_unique"),
                ],
            },
        ),
        migrations.CreateModel(
            name="GovernanceLogOutbox",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("actor", models.CharField(max_length=200)),
                ("event", models.CharField(max_length=100)),
                ("payload", models.TextField()),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenancy.project")),
            ],
            options={
                "db_table": "governance_logoutbox",
                "ordering": ["project_id", "id"],
                "indexes": [models.Index(fields=["project", "id"], name="govoutbox_project_id")],
            },
        ),
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.PositiveBigIntegerField()),
                ("head_hash", models.CharField(max_length=64)),
                ("entry_seq", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tenancy.project")),
            ],
            options={
                "db_table": "governance_checkpoint",
                "ordering": ["-seq"],
                "constraints": [models.UniqueConstraint(fields=("project", "seq"), name="checkpoint_project_seq")],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])]
