"""One round trip to take the per-project append lock and read the chain head.

A VOLATILE plpgsql function takes a fresh snapshot for each statement, so the head it reads
after the lock is granted includes every append committed before that moment. Fewer round
trips while holding the lock means a shorter queue when many processes append at once.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_log_lock_head(ns integer, project bigint,
    OUT head_seq bigint, OUT head_mac varchar, OUT head_event varchar, OUT head_key varchar)
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(ns, project::integer);
    SELECT seq, mac, event, key_id INTO head_seq, head_mac, head_event, head_key
    FROM governance_governancelogentry WHERE project_id = project ORDER BY seq DESC LIMIT 1;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

BACKWARD = "DROP FUNCTION IF EXISTS governance_log_lock_head(integer, bigint);"


class Migration(migrations.Migration):
    dependencies = [("governance", "0004_checkpoint_append_only")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
