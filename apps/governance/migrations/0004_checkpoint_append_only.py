"""Checkpoints are append-only like the log: they are what makes a truncated tail visible."""

from django.db import migrations

FORWARD = """
CREATE TRIGGER governance_checkpoint_no_update_delete
    BEFORE UPDATE OR DELETE ON governance_checkpoint
    FOR EACH ROW EXECUTE FUNCTION governance_log_refuse_change();

CREATE TRIGGER governance_checkpoint_no_truncate
    BEFORE TRUNCATE ON governance_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION governance_log_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_checkpoint_no_truncate ON governance_checkpoint;
DROP TRIGGER IF EXISTS governance_checkpoint_no_update_delete ON governance_checkpoint;
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_graphs_agents_sanctions")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
