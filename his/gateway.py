"""Who is calling: the platform gateway's signed headers (x-tif-*) or a counter's `Authorization: Api-Key`.

Signature = hex SHA-256(timestamp + secret + nonce + timestamp); the timestamp (Unix seconds) at most
`HIS_TIMESTAMP_SKEW` off; a nonce accepted once per paasid (the cache remembers it, the database while the
cache is away).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions

from accounts.authentication import ApiKeyAuthentication
from core.cache import cache_call

from .errors import HisErrorCode, HisRefusal
from .models import HisNonce, HisTerminal


def _skew() -> int:
    return int(getattr(settings, "HIS_TIMESTAMP_SKEW", 300))


@dataclass(frozen=True)
class Caller:
    operator: Any
    api_key: Any = None
    terminal: HisTerminal | None = None

    @property
    def institution(self):
        return self.operator.institution


def signature(*, timestamp: str, secret: str, nonce: str) -> str:
    """What a terminal sends as x-tif-signature."""
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def _refuse(code: HisErrorCode, message) -> HisRefusal:
    return HisRefusal(code, message, status=401)


def _counter_usable(operator) -> bool:
    return bool(
        operator.is_active
        and operator.role == "counter"
        and operator.institution_id
        and operator.institution.active
    )


def _nonce_fresh(paasid: str, nonce: str) -> bool:
    """True the first time a nonce is seen for this paasid within the skew window (twice: both sides of it)."""
    key = "his:nonce:" + hashlib.sha256(f"{paasid}:{nonce}".encode()).hexdigest()
    added = cache_call(lambda: cache.add(key, 1, 2 * _skew()), fallback=None, what="HIS gateway nonce")
    if added is not None:
        return bool(added)
    try:
        with transaction.atomic():
            HisNonce.objects.create(paasid=paasid, nonce=nonce, seen_at=timezone.now())
    except IntegrityError:
        return False
    HisNonce.objects.filter(seen_at__lt=timezone.now() - dt.timedelta(seconds=2 * _skew())).delete()
    return True


def authenticate(request) -> Caller:
    """The caller of a request, or HisRefusal (401) saying why not."""
    meta = request.META
    paasid = meta.get("HTTP_X_TIF_PAASID", "")
    if not paasid:
        try:
            found = ApiKeyAuthentication().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            raise _refuse(HisErrorCode.AUTHENTICATION_FAILED, exc.detail) from None
        if found is None:
            raise _refuse(
                HisErrorCode.MISSING_SIGNATURE,
                _("Sign the request with the x-tif headers or send Authorization: Api-Key."),
            )
        operator, api_key = found
        if not _counter_usable(operator):
            raise _refuse(HisErrorCode.AUTHENTICATION_FAILED, _("The terminal's operator may not settle."))
        return Caller(operator=operator, api_key=api_key)

    timestamp = meta.get("HTTP_X_TIF_TIMESTAMP", "")
    nonce = meta.get("HTTP_X_TIF_NONCE", "")
    sent = meta.get("HTTP_X_TIF_SIGNATURE", "")
    if not (timestamp and nonce and sent) or len(nonce) > 64:
        raise _refuse(
            HisErrorCode.MISSING_SIGNATURE,
            _("x-tif-timestamp, x-tif-nonce and x-tif-signature are all required."),
        )
    terminal = HisTerminal.objects.select_related("operator__institution").filter(paasid=paasid).first()
    if terminal is None or not terminal.is_active or not _counter_usable(terminal.operator):
        raise _refuse(HisErrorCode.UNKNOWN_PAASID, _("The paasid is unknown or revoked."))
    expected = signature(timestamp=timestamp, secret=terminal.secret, nonce=nonce)
    if not secrets.compare_digest(expected, sent.lower()):
        raise _refuse(HisErrorCode.BAD_SIGNATURE, _("The signature does not match."))
    if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > _skew():
        raise _refuse(
            HisErrorCode.STALE_TIMESTAMP,
            _("The timestamp is more than %(seconds)s seconds off our clock.") % {"seconds": _skew()},
        )
    if not _nonce_fresh(paasid, nonce):
        raise _refuse(HisErrorCode.REPLAYED_NONCE, _("This nonce was already used."))
    now = timezone.now()
    if terminal.last_used_at is None or (now - terminal.last_used_at).total_seconds() > 60:
        HisTerminal.objects.filter(pk=terminal.pk).update(last_used_at=now)
    return Caller(operator=terminal.operator, terminal=terminal)
