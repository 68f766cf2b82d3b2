from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reference.services import ImportFailed, institutions_import


class Command(BaseCommand):
    help = "Import designated institutions from CSV: every row or none; bad rows are listed."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, path: Path, dry_run: bool, **options):
        try:
            result = institutions_import(data=path.read_bytes(), dry_run=dry_run)
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}") from None
        except ImportFailed as exc:
            for error in exc.result.errors:
                self.stderr.write(f"line {error.line}: {error.field}: {error.code}: {error.message}")
            raise CommandError(f"{len(exc.result.errors)} bad row(s); nothing imported.") from None
        verb = "would create" if dry_run else "created"
        self.stdout.write(self.style.SUCCESS(f"{verb} {result.created}, updated {result.updated}."))
