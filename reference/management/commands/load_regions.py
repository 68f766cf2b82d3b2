from django.core.management.base import BaseCommand

from reference.services import regions_load


class Command(BaseCommand):
    help = "Create or update every region from the shipped GB/T 2260 file (idempotent)."

    def handle(self, *args, **options):
        count = regions_load()
        self.stdout.write(self.style.SUCCESS(f"{count} regions loaded."))
