"""Which signing key signs new codes, and when old keys stop verifying."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError
from ecode.keys import (
    KEYRING_TTL_SECONDS,
    keyring,
    keyring_invalidate,
    private_key_seal,
)
from ecode.token import CLOCK_SKEW

from ..errors import EcodeServiceErrorCode
from ..models import SigningKey, SigningKeyStatus

logger = logging.getLogger(__name__)


def _kid_new() -> int:
    while True:
        kid = secrets.randbits(32)
        if kid and not SigningKey.objects.filter(kid=kid).exists():
            return kid


def _signing_key_create(*, actor, reason: str = "") -> SigningKey:
    private_key = Ed25519PrivateKey.generate()
    kid = _kid_new()
    key = SigningKey.objects.create(
        kid=kid,
        public_key=private_key.public_key().public_bytes_raw(),
        private_key_sealed=private_key_seal(kid=kid, private_key=private_key),
        status=SigningKeyStatus.ACTIVE,
    )
    audit_record(
        actor=actor,
        action="ecode.key.create",
        target=key,
        to_state=key.status,
        reason=reason,
        data={"kid": key.kid_hex},
    )
    return key


def verify_only_window() -> timedelta:
    """How long a retired key keeps verifying: a token lifetime, the clock skew, and the key-ring TTL (other
    processes may sign with the old key until they reload)."""
    return timedelta(seconds=settings.ECODE_TOKEN_TTL_SECONDS + CLOCK_SKEW + KEYRING_TTL_SECONDS)


@transaction.atomic
def signing_key_rotate(*, actor=None, reason: str = "") -> SigningKey:
    """Create a new active signing key; the previous active key verifies only, for ``verify_only_window``."""
    now = timezone.now()
    for old in SigningKey.objects.select_for_update().filter(status=SigningKeyStatus.ACTIVE):
        old.status, old.retired_at, old.verify_until = (
            SigningKeyStatus.VERIFY_ONLY,
            now,
            now + verify_only_window(),
        )
        old.save(update_fields=["status", "retired_at", "verify_until"])
        audit_record(
            actor=actor,
            action="ecode.key.retire",
            target=old,
            from_state=SigningKeyStatus.ACTIVE,
            to_state=old.status,
            reason=reason,
            data={"kid": old.kid_hex, "verify_until": old.verify_until.isoformat()},
        )
    key = _signing_key_create(actor=actor, reason=reason)
    keyring_invalidate()
    return key


@transaction.atomic
def signing_key_revoke(*, kid: int, actor=None, reason: str = "") -> SigningKey:
    """Revoke a key at once: nothing it signed verifies any more. Revoking the active key puts a new one in
    its place, so codes can still be issued."""
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise ServiceError(
            EcodeServiceErrorCode.UNKNOWN_SIGNING_KEY, _("There is no such signing key."), status=404
        )
    if key.status == SigningKeyStatus.REVOKED:
        raise ServiceError(
            EcodeServiceErrorCode.SIGNING_KEY_REVOKED, _("This signing key is already revoked."), status=409
        )
    from_state = key.status
    key.status, key.revoked_at = SigningKeyStatus.REVOKED, timezone.now()
    key.save(update_fields=["status", "revoked_at"])
    audit_record(
        actor=actor,
        action="ecode.key.revoke",
        target=key,
        from_state=from_state,
        to_state=key.status,
        reason=reason,
        data={"kid": key.kid_hex},
    )
    if from_state == SigningKeyStatus.ACTIVE:
        _signing_key_create(actor=actor, reason=f"replaces revoked key {key.kid_hex}")
    keyring_invalidate()
    return key


def signing_key_ensure(*, actor=None) -> SigningKey:
    """Return the active signing key, generating one if there is none (the embedded default's first run)."""
    key = SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            key = _signing_key_create(actor=actor, reason="development signing key generated")
    except IntegrityError:  # another process generated one at the same moment
        return SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    logger.warning(
        "development signing key generated (kid %s); create managed keys with `manage.py ecode_keys rotate`",
        key.kid_hex,
    )
    keyring_invalidate()
    return key


def _signing_key():
    signing = keyring().signing_key
    if signing is None:
        signing_key_ensure()
        keyring_invalidate()  # another process may have made the key this process has not loaded yet
        signing = keyring().signing_key
    return signing
