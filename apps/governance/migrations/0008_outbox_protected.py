"""Outbox rows are recorded events: the database refuses to edit them or drop them unchained.

UPDATE and TRUNCATE are refused outright. DELETE is allowed only for a row some log entry has
chained (its `outbox_id`), which is what a flush does in the same transaction as the INSERT.
The lookup uses the partial unique index on governance_governancelogentry.outbox_id.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_outbox_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM governance_governancelogentry WHERE outbox_id = OLD.id) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'governance log outbox row % is not chained yet: DELETE refused', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'governance log outbox rows are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_outbox_no_update_delete
    BEFORE UPDATE OR DELETE ON governance_logoutbox
    FOR EACH ROW EXECUTE FUNCTION governance_outbox_refuse_change();

CREATE TRIGGER governance_outbox_no_truncate
    BEFORE TRUNCATE ON governance_logoutbox
    FOR EACH STATEMENT EXECUTE FUNCTION governance_outbox_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_outbox_no_truncate ON governance_logoutbox;
DROP TRIGGER IF EXISTS governance_outbox_no_update_delete ON governance_logoutbox;
DROP FUNCTION IF EXISTS governance_outbox_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0007_log_outbox")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
