"""Load every province- and prefecture-level region from the shipped GB/T 2260 file."""

from django.db import migrations


def load(apps, schema_editor):
    from reference.services import regions_load

    regions_load(region_model=apps.get_model("reference", "Region"))


def unload(apps, schema_editor):
    Region = apps.get_model("reference", "Region")
    Region.objects.filter(parent__isnull=False).delete()
    Region.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("reference", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
