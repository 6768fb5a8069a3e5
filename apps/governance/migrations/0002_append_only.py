"""The database itself refuses to rewrite governance history.

A row trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE. Only a superuser
who disables the triggers can get around them, and then the keyed chain shows the damage.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_log_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'governance log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_log_no_update_delete
    BEFORE UPDATE OR DELETE ON governance_governancelogentry
    FOR EACH ROW EXECUTE FUNCTION governance_log_refuse_change();

CREATE TRIGGER governance_log_no_truncate
    BEFORE TRUNCATE ON governance_governancelogentry
    FOR EACH STATEMENT EXECUTE FUNCTION governance_log_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_log_no_truncate ON governance_governancelogentry;
DROP TRIGGER IF EXISTS governance_log_no_update_delete ON governance_governancelogentry;
DROP FUNCTION IF EXISTS governance_log_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
