"""Sign-in throttling: whether a password may be tried now, for this account and this client address.

Every password check goes through `accounts.backends.SignInBackend`, which asks this module first, so the API
token endpoint, `/login/`, `/counter/login/` and `/admin/login/` share one count. Failures are counted on the
identity as the account lookup normalises it (every spelling of a phone number is one identity) and on the
client address; `LOGIN_MAX_FAILURES` failures of an identity, or `LOGIN_MAX_FAILURES_PER_ADDRESS` from an
address, refuse every sign-in of it, the right password included, for `LOGIN_LOCKOUT_SECONDS`. An identity
that matches no account is counted and refused like one that does, so the answers reveal nothing.

The counts live in the cache. While the cache is away (`core.cache`) they are kept in the database instead
(`SignInThrottle`), so an outage of Redis neither breaks sign-in nor lifts the limits; the counts start afresh
in whichever store takes over, so a switch can give an attacker at most one more round of tries.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import time
import unicodedata
from collections.abc import Callable
from typing import TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from core import pii
from core.cache import cache_call
from core.errors import ServiceError
from core.validators import normalize_id_number, validate_phone

from .errors import AccountErrorCode
from .models import SignInThrottle

logger = logging.getLogger(__name__)

_ID_NUMBER_SHAPE = 18
_AWAY = object()
T = TypeVar("T")


class SignInLocked(ServiceError):
    """Too many failed sign-ins of this account or from this address; `retry_after` is in seconds."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        minutes = max(1, math.ceil(self.retry_after / 60))
        super().__init__(
            AccountErrorCode.TOO_MANY_ATTEMPTS,
            ngettext(
                "Too many failed sign-in attempts. Try again in %(minutes)d minute.",
                "Too many failed sign-in attempts. Try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes},
        )


def signin_identity(identifier: str) -> str:
    """The account an identifier names, normalised as the lookup normalises it (never stored in clear)."""
    identifier = (identifier or "").strip()
    try:
        return "phone:" + validate_phone(identifier)
    except ValidationError:
        pass
    if len(identifier) == _ID_NUMBER_SHAPE and identifier[:17].isdigit():
        return "id:" + normalize_id_number(identifier)
    # Usernames are looked up exactly, after the NFKC normalisation Django applies when they are saved.
    return "user:" + unicodedata.normalize("NFKC", identifier)


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the X-Forwarded-For entry our own proxies vouch for.

    With TRUSTED_PROXY_COUNT = n > 0, each of our n proxies appends the address it received the request from,
    so the client is the n-th entry from the right; entries further left were written by the client and are
    ignored. IPv6 clients are counted per /64, the block one subscriber usually holds.
    """
    if request is None:
        return None
    meta = request.META
    value = meta.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            value = forwarded[-hops]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(identifier: str, request) -> list[tuple[str, int]]:
    """The counters one attempt touches, with their limits; keys are keyed hashes, never a phone in clear."""
    keys = [(pii.blind_index(signin_identity(identifier), purpose="signin"), settings.LOGIN_MAX_FAILURES)]
    address = client_address(request)
    if address is not None:
        keys.append(
            (pii.blind_index("addr:" + address, purpose="signin"), settings.LOGIN_MAX_FAILURES_PER_ADDRESS)
        )
    return keys


def signin_check(*, identifier: str, request) -> None:
    """Raise `SignInLocked` when this identity or this address may not try a password now."""
    keys = [key for key, _limit in _keys(identifier, request)]
    remaining = _in_cache_or_database(lambda: _cache_remaining(keys), lambda: _db_remaining(keys))
    if remaining > 0:
        raise SignInLocked(math.ceil(remaining))


def signin_failed(*, identifier: str, request) -> None:
    """Count a failed sign-in; the identity or address that reaches its limit is locked."""
    for key, limit in _keys(identifier, request):
        _in_cache_or_database(
            lambda k=key, n=limit: _cache_failed(k, n),  # type: ignore[misc]  # defaults bind the loop's values
            lambda k=key, n=limit: _db_failed(k, n),  # type: ignore[misc]
        )


def signin_succeeded(*, identifier: str, request) -> None:
    """Forget the identity's failures. The address keeps its count: one good account must not let an address
    go on trying others."""
    key = _keys(identifier, request)[0][0]
    _in_cache_or_database(
        lambda: cache.delete(f"signin:fail:{key}"), lambda: SignInThrottle.objects.filter(key=key).delete()
    )


def _in_cache_or_database(in_cache: Callable[[], T], in_database: Callable[[], T]) -> T:
    result = cache_call(in_cache, fallback=_AWAY, what="sign-in limits")
    return in_database() if result is _AWAY else cast(T, result)


def _cache_remaining(keys: list[str]) -> float:
    locks = cache.get_many([f"signin:lock:{key}" for key in keys])
    return max((float(until) for until in locks.values()), default=0.0) - time.time()


def _db_remaining(keys: list[str]) -> float:
    now = timezone.now()
    locked_until = (
        SignInThrottle.objects.filter(key__in=keys, locked_until__gt=now)
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    return (locked_until - now).total_seconds() if locked_until else 0.0


def _cache_failed(key: str, limit: int) -> None:
    counter = f"signin:fail:{key}"
    lockout = settings.LOGIN_LOCKOUT_SECONDS
    if cache.add(counter, 1, lockout):
        failures = 1
    else:
        try:
            failures = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, lockout)
            failures = 1
    if failures >= limit:
        cache.set(f"signin:lock:{key}", time.time() + lockout, lockout)
        cache.delete(counter)
        logger.warning("sign-in locked for %d s: key %s…", lockout, key[:8])


def _db_failed(key: str, limit: int) -> None:
    now = timezone.now()
    window = dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row, _created = SignInThrottle.objects.select_for_update().get_or_create(
                    key=key, defaults={"failures": 0, "window_ends_at": now + window}
                )
        except IntegrityError:  # created by a concurrent failure
            row = SignInThrottle.objects.select_for_update().get(key=key)
        if row.window_ends_at <= now:
            row.failures, row.window_ends_at = 0, now + window
        row.failures += 1
        if row.failures >= limit:
            row.failures, row.locked_until = 0, now + window
            logger.warning("sign-in locked for %d s (database): key %s…", window.total_seconds(), key[:8])
        row.save()
    # Rows of windows long past are of no use to anyone.
    SignInThrottle.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now), window_ends_at__lt=now
    ).delete()
