"""Indexes that another index of the audit trail serves, dropped (tests/core/test_indexes.py): the target type's,
led by (target_type, target_id, created_at), and the action's LIKE twin (its plain index is kept as
audit_action_idx). The foreign key itself is not touched (core.schema)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.schema import index_rename, indexes_drop


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('core', '0005_partition_archive'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        indexes_drop(
            state_operations=[
                migrations.AlterField(
                    model_name='auditevent',
                    name='target_type',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contenttypes.contenttype'),
                ),
            ],
            indexes=[('core_auditevent', 'core_auditevent_target_type_id_fb278029', 'target_type_id')],
        ),
        index_rename(
            state_operations=[
                migrations.AlterField(
                    model_name='auditevent',
                    name='action',
                    field=models.CharField(max_length=60, verbose_name='action'),
                ),
                migrations.AddIndex(
                    model_name='auditevent',
                    index=models.Index(fields=['action'], name='audit_action_idx'),
                ),
            ],
            table='core_auditevent',
            column='action',
            old='core_auditevent_action_b3c9b7a8',
            new='audit_action_idx',
        ),
    ]
