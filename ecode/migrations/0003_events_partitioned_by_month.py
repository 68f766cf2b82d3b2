"""On PostgreSQL, code events are partitioned: uses (``consume``) in one partition kept whole, checks
(``verify``) in one partition a month (``core.partitions``), so that old checks can be archived and dropped while
every use stays for settlement and clearing. SQLite keeps the plain table.

The model's two partial unique constraints hold as before:
- ``ecode_one_use_per_code`` is an index of the uses' partition, which holds every use: one use per code,
  whatever its age;
- ``ecode_request_no_unique`` (a request number once per institution, checks and uses together) cannot be an
  index of a table partitioned by time, so a trigger enforces it across the partitions: it takes a
  transaction lock on the (institution, request number) and refuses a second row with the same SQLSTATE (23505)
  and constraint name as the index did; each partition has an index for that lookup, and the uses' partition
  keeps the unique index too.
A settlement's use (``settlement_settlement.code_event_id``) and a HIS visit's (``his_hisvisit.code_event_id``)
now reference the uses' partition; a later migration that adds or alters a foreign key to code events must
point it there (a partitioned table's ids are unique only with the kind and the time), as
``core.partitions.table_partition`` does here. A check without a request number does not fire the trigger at all.
"""

from django.db import migrations

from core.partitions import Layout, table_partition, table_unpartition

LAYOUT = Layout(
    table="ecode_codeevent",
    time="created_at",
    split="kind",
    kept="ecode_codeevent_use",
    kept_values=("consume",),
    monthly_values=("verify",),
)

TRIGGER = """
CREATE INDEX "ecode_codeevent_request_no_idx" ON "ecode_codeevent" ("institution_id", "request_no")
    WHERE "request_no" <> '';
CREATE FUNCTION ecode_request_no_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.request_no <> '' THEN
        PERFORM pg_advisory_xact_lock(
            hashtextextended('ecode_request_no ' || NEW.institution_id || ' ' || NEW.request_no, 0));
        IF EXISTS (SELECT 1 FROM ecode_codeevent WHERE institution_id = NEW.institution_id
                   AND request_no = NEW.request_no AND request_no <> '') THEN
            RAISE unique_violation USING
                MESSAGE = 'duplicate key value violates unique constraint "ecode_request_no_unique"',
                CONSTRAINT = 'ecode_request_no_unique', TABLE = 'ecode_codeevent';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER ecode_request_no_once BEFORE INSERT ON ecode_codeevent
    FOR EACH ROW WHEN (NEW.request_no <> '') EXECUTE FUNCTION ecode_request_no_once();
"""

UNTRIGGER = """
DROP TRIGGER ecode_request_no_once ON ecode_codeevent;
DROP FUNCTION ecode_request_no_once();
DROP INDEX "ecode_codeevent_request_no_idx";
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table_partition(schema_editor, LAYOUT)
    schema_editor.execute(TRIGGER)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(UNTRIGGER)
    table_unpartition(schema_editor, LAYOUT)


class Migration(migrations.Migration):
    # After every migration that makes a foreign key to code events (a settlement's use, a HIS visit's use):
    # those keys are pointed at the uses' partition here, and none can be made to the partitioned table later.
    dependencies = [
        ("ecode", "0002_lean_event_indexes"),
        ("settlement", "0004_list_order_indexes"),
        ("his", "0001_his_interface"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
