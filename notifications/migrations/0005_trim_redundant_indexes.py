"""Indexes that another index of the same table serves, dropped (tests/core/test_indexes.py): the foreign keys'
indexes led by a longer index, the status led by delivery_due_idx, and the event's LIKE twin (its plain index is
kept as notif_event_idx). The foreign keys themselves are not touched (core.schema)."""

import django.db.models.deletion
from django.db import migrations, models

from core.schema import index_rename, indexes_drop


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_assistance_category_words_in_english'),
        ('notifications', '0004_settlement_corrected_event'),
    ]

    operations = [
        indexes_drop(
            state_operations=[
                migrations.AlterField(
                    model_name='delivery',
                    name='notification',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='notifications.notification', verbose_name='notification'),
                ),
                migrations.AlterField(
                    model_name='notification',
                    name='person',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='accounts.insuredperson', verbose_name='insured person'),
                ),
            ],
            indexes=[
                ('notifications_delivery', 'notifications_delivery_notification_id_ea8dc048', 'notification_id'),
                ('notifications_notification', 'notifications_notification_person_id_ec9b6507', 'person_id'),
            ],
        ),
        index_rename(
            state_operations=[
                migrations.AlterField(
                    model_name='notification',
                    name='event',
                    field=models.CharField(choices=[('filing_submitted', 'Filing submitted'), ('filing_approved', 'Filing approved'), ('filing_rejected', 'Filing rejected'), ('filing_revoked', 'Filing revoked'), ('filing_cancelled', 'Filing cancelled'), ('filing_expiring', 'Filing expiring soon'), ('filing_expired', 'Filing expired'), ('ecode_activated', 'E-code activated'), ('ecode_suspended', 'E-code suspended'), ('ecode_used', 'E-code used'), ('settlement_completed', 'Settlement completed'), ('settlement_reversed', 'Settlement reversed'), ('settlement_corrected', 'Settlement corrected')], max_length=32, verbose_name='event'),
                ),
                migrations.AddIndex(
                    model_name='notification',
                    index=models.Index(fields=['event'], name='notif_event_idx'),
                ),
            ],
            table='notifications_notification',
            column='event',
            old='notifications_notification_event_2954c887',
            new='notif_event_idx',
        ),
        migrations.AlterField(
            model_name='delivery',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=8, verbose_name='status'),
        ),
    ]
