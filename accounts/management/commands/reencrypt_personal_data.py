from django.core.management.base import BaseCommand

from accounts.services import personal_data_reencrypt


class Command(BaseCommand):
    help = (
        "After rotating PII_ENCRYPTION_KEY (new key + version, old key in PII_ENCRYPTION_OLD_KEYS), rewrite every "
        "person's data under the new key and recompute the lookup hashes."
    )

    def handle(self, *args, **options):
        count = personal_data_reencrypt()
        self.stdout.write(self.style.SUCCESS(f"{count} people re-encrypted."))
