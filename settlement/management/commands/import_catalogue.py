from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError
from reference.services import ImportFailed
from settlement.services import catalogue_import


class Command(BaseCommand):
    help = "Import a treatment province's catalogue items from CSV: every row or none; bad rows are listed."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--province", required=True, help="Province code, e.g. 110000.")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, path: Path, province: str, dry_run: bool, **options):
        try:
            result = catalogue_import(province=province, data=path.read_bytes(), dry_run=dry_run)
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}") from None
        except ImportFailed as exc:
            for error in exc.result.errors:
                self.stderr.write(f"line {error.line}: {error.field}: {error.code}: {error.message}")
            raise CommandError(f"{len(exc.result.errors)} bad row(s); nothing imported.") from None
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        verb = "would create" if dry_run else "created"
        self.stdout.write(self.style.SUCCESS(f"{verb} {result.created}, updated {result.updated}."))
