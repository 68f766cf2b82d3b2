"""On PostgreSQL, the audit trail is partitioned by month (``core.partitions``), so that months past their
retention can be archived and dropped; SQLite keeps the plain table."""

from django.db import migrations

from core.partitions import Layout, table_partition, table_unpartition

LAYOUT = Layout(table="core_auditevent", time="created_at")


def partition(apps, schema_editor):
    table_partition(schema_editor, LAYOUT)


def unpartition(apps, schema_editor):
    table_unpartition(schema_editor, LAYOUT)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_list_order_indexes")]

    operations = [migrations.RunPython(partition, unpartition)]
