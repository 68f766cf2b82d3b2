"""PostgreSQL only: approved filings of one person and scheme never overlap in dates.

SQLite (the embedded default) has no exclusion constraints; there the services' check under the person's row
lock is the guard. Emergency filings record one episode that counts as filed and are left out.
"""

from django.db import migrations

CONSTRAINT_SQL = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE filing_filing ADD CONSTRAINT filing_approved_no_overlap EXCLUDE USING gist (
    person_id WITH =,
    scheme WITH =,
    daterange(start_date, end_date, '[]') WITH &&
) WHERE (status = 'approved' AND "group" <> 'emergency');
"""
DROP_SQL = "ALTER TABLE filing_filing DROP CONSTRAINT IF EXISTS filing_approved_no_overlap;"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CONSTRAINT_SQL)


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("filing", "0001_filings_policies_documents")]

    operations = [migrations.RunPython(add_constraint, drop_constraint, elidable=False)]
