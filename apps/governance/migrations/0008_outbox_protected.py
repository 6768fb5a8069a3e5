"""Outbox rows are recorded events: the database refuses to edit them or drop them unchained.

UPDATE and TRUNCATE are refused outright. DELETE is allowed only for rows some log entry has
chained (its `outbox_id`), which is what a flush does in the same transaction as the INSERT.
The DELETE check runs once per statement over its transition table (a flush deletes a thousand
rows at a time) and uses the partial unique index on governance_governancelogentry.outbox_id;
an exception in an AFTER trigger undoes the whole statement.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_outbox_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'governance log outbox rows are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION governance_outbox_refuse_unchained_delete() RETURNS trigger AS $$
DECLARE
    unchained bigint;
BEGIN
    SELECT d.id INTO unchained FROM deleted AS d
    WHERE NOT EXISTS (SELECT 1 FROM governance_governancelogentry AS e WHERE e.outbox_id = d.id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'governance log outbox row % is not chained yet: DELETE refused', unchained
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_outbox_no_update
    BEFORE UPDATE ON governance_logoutbox
    FOR EACH ROW EXECUTE FUNCTION governance_outbox_refuse_change();

CREATE TRIGGER governance_outbox_delete_chained_only
    AFTER DELETE ON governance_logoutbox REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION governance_outbox_refuse_unchained_delete();

CREATE TRIGGER governance_outbox_no_truncate
    BEFORE TRUNCATE ON governance_logoutbox
    FOR EACH STATEMENT EXECUTE FUNCTION governance_outbox_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_outbox_no_truncate ON governance_logoutbox;
DROP TRIGGER IF EXISTS governance_outbox_delete_chained_only ON governance_logoutbox;
DROP TRIGGER IF EXISTS governance_outbox_no_update ON governance_logoutbox;
DROP FUNCTION IF EXISTS governance_outbox_refuse_unchained_delete();
DROP FUNCTION IF EXISTS governance_outbox_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0007_log_outbox")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
