from django.core.management.base import BaseCommand

from reference.services import institutions_export


class Command(BaseCommand):
    help = "Write all designated institutions as CSV (the import format) to standard output."

    def handle(self, *args, **options):
        self.stdout.write(institutions_export(), ending="")
