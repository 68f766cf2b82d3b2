"""Indexes that another index of the settlement tables serves, dropped (tests/core/test_indexes.py; some 28 million
settlements a day pay each index): the person's, institution's and the line's settlement's, led by longer indexes;
settled_at, led by settlement_recent_idx; the provinces', led by (insured_province, treatment_province,
settled_at) or served within the admin's period by settlement_recent_idx; the status, replaced by an index of the
few reversed rows; the LIKE twins of the number (unique by a constraint now) and of the insured area (whose index
becomes (insured_region, settled_at DESC), a reviewer's list). The new indexes come first; the foreign keys
themselves are not touched (core.schema)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.schema import indexes_drop


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_assistance_category_words_in_english'),
        ('ecode', '0003_events_partitioned_by_month'),
        ('filing', '0005_referral_by_hospital'),
        ('reference', '0002_load_regions'),
        ('settlement', '0014_settlement_corrections'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(fields=['insured_region', '-settled_at'], name='settlement_area_idx'),
        ),
        migrations.AddIndex(
            model_name='settlement',
            index=models.Index(condition=models.Q(('status', 'reversed')), fields=['settled_at', 'id'], name='settlement_reversed_idx'),
        ),
        migrations.AddConstraint(
            model_name='settlement',
            constraint=models.UniqueConstraint(fields=('number',), name='settlement_number_unique'),
        ),
        indexes_drop(
            state_operations=[
                migrations.AlterField(
                    model_name='settlement',
                    name='person',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='accounts.insuredperson', verbose_name='insured person'),
                ),
                migrations.AlterField(
                    model_name='settlement',
                    name='institution',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='settlements', to='reference.institution', verbose_name='institution'),
                ),
                migrations.AlterField(
                    model_name='settlement',
                    name='insured_region',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='reference.region', verbose_name='insured pooling area'),
                ),
                migrations.AlterField(
                    model_name='settlementline',
                    name='settlement',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='settlement.settlement'),
                ),
            ],
            indexes=[
                ('settlement_settlement', 'settlement_settlement_person_id_decc8b40', 'person_id'),
                ('settlement_settlement', 'settlement_settlement_institution_id_d454eb4c', 'institution_id'),
                ('settlement_settlement', 'settlement_settlement_insured_region_id_df0ab3bb', 'insured_region_id'),
                ('settlement_settlementline', 'settlement_settlementline_settlement_id_a80738d1', 'settlement_id'),
            ],
            with_like=('settlement_settlement_insured_region_id_df0ab3bb',),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='insured_province',
            field=models.CharField(max_length=6, verbose_name='insured province'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='number',
            field=models.CharField(editable=False, max_length=24, verbose_name='settlement number'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='settled_at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='settled'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='status',
            field=models.CharField(choices=[('settled', 'Settled'), ('reversed', 'Reversed')], default='settled', max_length=10, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='settlement',
            name='treatment_province',
            field=models.CharField(max_length=6, verbose_name='treatment province'),
        ),
    ]
