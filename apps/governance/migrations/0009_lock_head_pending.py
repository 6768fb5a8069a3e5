"""The lock-and-head function also says whether the outbox holds rows for the project, and can try.

Every direct append must chain the project's pending outbox rows first (causal order), so the
"anything pending?" probe rides in the same round trip as the lock and the head read. With
`wait` false it uses pg_try_advisory_xact_lock and returns locked = false at once when another
transaction holds the lock (the background flush then leaves the rows for later).
Replaces the two-argument version from migration 0005.
"""

from django.db import migrations

FORWARD = """
DROP FUNCTION IF EXISTS governance_log_lock_head(integer, bigint);

CREATE OR REPLACE FUNCTION governance_log_lock_head(ns integer, project bigint, wait boolean,
    OUT locked boolean, OUT head_seq bigint, OUT head_mac varchar, OUT head_event varchar,
    OUT head_key varchar, OUT pending boolean)
AS $$
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(ns, project::integer);
        locked := true;
    ELSE
        locked := pg_try_advisory_xact_lock(ns, project::integer);
        IF NOT locked THEN
            RETURN;
        END IF;
    END IF;
    SELECT seq, mac, event, key_id INTO head_seq, head_mac, head_event, head_key
    FROM governance_governancelogentry WHERE project_id = project ORDER BY seq DESC LIMIT 1;
    pending := EXISTS (SELECT 1 FROM governance_logoutbox WHERE project_id = project);
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS governance_log_lock_head(integer, bigint, boolean);

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


class Migration(migrations.Migration):
    dependencies = [("governance", "0008_outbox_protected")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
