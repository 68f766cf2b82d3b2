"""The cache (Redis in production) as a helper that may be away: a call that cannot reach it degrades to a
fallback instead of failing the request, and a few seconds pass before the next call tries again.

What each caller falls back to is its own decision (the database, "not known", "allowed"); this module only
runs the call, recognises an outage and reports it. `cache_degraded()` tells whether this process saw the
cache fail in the last `RETRY_AFTER_SECONDS`; `/readyz` asks the cache itself (`cache_reachable()`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a cache server that went away (refused, reset, timed out, read-only after a failover, out of memory)
# raises through Django's Redis backend; OSError covers the other backends' sockets and files.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)

# What escapes from code that does not degrade yet: the view answers 503 with Retry-After (core.exceptions,
# core.middleware), never a 500.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisError, BrokerError)
OUTAGE_RETRY_AFTER_SECONDS = 30

# After a failure, calls skip the cache for this long: a cache that hangs until its socket timeout would
# otherwise add that timeout to every request of the outage.
RETRY_AFTER_SECONDS = 5.0

_lock = threading.Lock()
_down_until = 0.0


def cache_call(operation: Callable[[], T], *, fallback: T, what: str) -> T:
    """Run `operation` (one cache call); if the cache cannot be reached, return `fallback` instead.

    `what` names the use in the log line (never a key or a value: keys may be derived from personal data).
    While the cache is known to be down, `operation` is not even tried.
    """
    if cache_degraded():
        return fallback
    try:
        return operation()
    except CACHE_ERRORS as exc:
        cache_failed(what=what, error=exc)
        return fallback


def cache_failed(*, what: str, error: BaseException) -> None:
    """Record that a cache call failed (for callers that catch CACHE_ERRORS themselves)."""
    global _down_until
    with _lock:
        first = _down_until <= time.monotonic()
        _down_until = time.monotonic() + RETRY_AFTER_SECONDS
    if first:  # once per outage and process, not once per request
        logger.warning("Cache unavailable (%s during %s); degrading for now.", type(error).__name__, what)


def cache_degraded() -> bool:
    """True while this process treats the cache as down (it failed less than RETRY_AFTER_SECONDS ago)."""
    return _down_until > time.monotonic()


def cache_recovered() -> None:
    """Forget a recorded failure (the cache answered a direct check)."""
    global _down_until
    with _lock:
        _down_until = 0.0


def cache_reachable() -> bool:
    """Ask the cache itself, whatever earlier calls saw: a value written can be read back."""
    try:
        cache.set("readyz", "1", 5)
        reachable = cache.get("readyz") == "1"
    except CACHE_ERRORS:
        return False
    if reachable:
        cache_recovered()
    return reachable
