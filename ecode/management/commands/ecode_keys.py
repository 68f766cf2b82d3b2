"""Manage the e-code signing keys: ``rotate``, ``revoke KID``, ``list``."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.errors import ServiceError
from ecode.models import SigningKey, SigningKeyStatus
from ecode.services import signing_key_revoke, signing_key_rotate


def _kid(value: str) -> int:
    text = value.strip().lower()
    if len(text) != 8 or any(c not in "0123456789abcdef" for c in text):
        raise CommandError("KID is the key's 8 hex digits, as `ecode_keys list` shows it")
    return int(text, 16)


class Command(BaseCommand):
    help = "Rotate, revoke or list the Ed25519 keys that sign e-codes (private keys stay sealed under ECODE_KEK)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rotate = sub.add_parser(
            "rotate", help="new active key; the old one verifies only for one token lifetime"
        )
        rotate.add_argument("--reason", default="", help="recorded in the audit log")
        revoke = sub.add_parser(
            "revoke", help="revoke a key now; revoking the active key also creates a new one"
        )
        revoke.add_argument("kid", help="the key id: 8 hex digits")
        revoke.add_argument("--reason", default="", help="recorded in the audit log")
        sub.add_parser("list", help="every key with its status")

    def handle(self, *args, action, **options):
        label = "manage.py ecode_keys"
        if action == "rotate":
            key = signing_key_rotate(reason=options["reason"] or "rotation")
            self.stdout.write(f"active key {key.kid_hex}")
            for old in SigningKey.objects.filter(
                status=SigningKeyStatus.VERIFY_ONLY, retired_at__isnull=False
            ):
                if old.verify_until and old.verify_until > timezone.now():
                    self.stdout.write(f"verify-only {old.kid_hex} until {old.verify_until.isoformat()}")
        elif action == "revoke":
            try:
                key = signing_key_revoke(kid=_kid(options["kid"]), reason=options["reason"] or label)
            except ServiceError as exc:
                raise CommandError(f"{exc.code}: {exc.message}") from None
            self.stdout.write(f"revoked {key.kid_hex}")
            active = SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).first()
            if active:
                self.stdout.write(f"active key {active.kid_hex}")
        else:
            now = timezone.now()
            self.stdout.write(f"{'kid':<10}{'status':<14}{'created':<27}verifies until")
            for key in SigningKey.objects.order_by("-created_at"):
                status = key.status
                if status == SigningKeyStatus.VERIFY_ONLY and not key.verifies_at(now):
                    status = "expired"
                until = key.verify_until.isoformat(timespec="seconds") if key.verify_until else "-"
                if key.status == SigningKeyStatus.REVOKED:
                    until = "-"
                self.stdout.write(
                    f"{key.kid_hex:<10}{status:<14}{key.created_at.isoformat(timespec='seconds'):<27}{until}"
                )
