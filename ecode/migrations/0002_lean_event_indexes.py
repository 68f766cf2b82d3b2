"""Every counter check inserts a code event: drop the indexes that others cover or that nothing uses.

The person's and the institution's foreign-key indexes are covered by the (person, time) and (institution, time)
indexes; the subject is looked up only for successful uses, through the partial unique index
``ecode_one_use_per_code``. The indexes are dropped by name: altering the fields would also drop that partial
unique index (it is on the same column) and rebuild the foreign keys of a large table.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {  # name: column (and operator class, on PostgreSQL)
    "ecode_codeevent_institution_id_973021a3": ("institution_id", ""),
    "ecode_codeevent_person_id_36239394": ("person_id", ""),
    "ecode_codeevent_subject_25676a66": ("subject", ""),
    "ecode_codeevent_subject_25676a66_like": ("subject", "varchar_pattern_ops"),
}


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, (column, opclass) in INDEXES.items():
        if opclass and not postgres:
            continue
        schema_editor.execute(f'CREATE INDEX "{name}" ON "ecode_codeevent" ("{column}" {opclass})')


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("ecode", "0001_credentials_keys_events"),
        ("reference", "0002_load_regions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, create)],
            state_operations=[
                migrations.AlterField(
                    model_name="codeevent",
                    name="institution",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ecode_events",
                        to="reference.institution",
                        verbose_name="institution",
                    ),
                ),
                migrations.AlterField(
                    model_name="codeevent",
                    name="person",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ecode_events",
                        to="accounts.insuredperson",
                        verbose_name="insured person",
                    ),
                ),
                migrations.AlterField(
                    model_name="codeevent",
                    name="subject",
                    field=models.CharField(blank=True, max_length=32),
                ),
            ],
        ),
    ]
