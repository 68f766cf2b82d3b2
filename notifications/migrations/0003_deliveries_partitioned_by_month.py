"""On PostgreSQL, deliveries are partitioned by month (``core.partitions``), so that months past their retention
can be archived and dropped; SQLite keeps the plain table.

A unique key of a table partitioned by time must hold the time: ``delivery_once_per_channel`` becomes
(notification, channel, created_at), which keeps one delivery per channel because every delivery of a
notification is written with the notification's own time (``notifications.services.notification_create``).
"""

from django.db import migrations

from core.partitions import Layout, table_partition, table_unpartition

LAYOUT = Layout(table="notifications_delivery", time="created_at")


def partition(apps, schema_editor):
    table_partition(schema_editor, LAYOUT)


def unpartition(apps, schema_editor):
    table_unpartition(schema_editor, LAYOUT)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_list_order_indexes")]

    operations = [migrations.RunPython(partition, unpartition)]
