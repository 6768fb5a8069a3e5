"""A published graph version never changes: the database refuses edits to its content and deletes.

Only `is_active` may change (which version is in force).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION governance_graph_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.source IS DISTINCT FROM OLD.source OR NEW.digest IS DISTINCT FROM OLD.digest
       OR NEW.manifest IS DISTINCT FROM OLD.manifest OR NEW.name IS DISTINCT FROM OLD.name
       OR NEW.number IS DISTINCT FROM OLD.number OR NEW.project_id IS DISTINCT FROM OLD.project_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_by IS DISTINCT FROM OLD.created_by THEN
        RAISE EXCEPTION 'published graph versions are immutable: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_graph_immutable
    BEFORE UPDATE OR DELETE ON governance_graphversion
    FOR EACH ROW EXECUTE FUNCTION governance_graph_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS governance_graph_immutable ON governance_graphversion;
DROP FUNCTION IF EXISTS governance_graph_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0005_lock_head_function")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
