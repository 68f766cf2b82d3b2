"""Where a read goes: the primary decides, a streaming replica (DATABASE_REPLICA_URL) serves chosen reads.

Every query goes to the primary unless a read-only list asks otherwise, with `for_reading(queryset)` or inside
`replica_reads()` (a context manager and decorator); the admin's changelists ask through `ReplicaMiddleware`.
Even then the replica is used only when all of these hold, decided once per request:

- a replica is configured, and this request is a read (GET or HEAD) with no transaction open;
- this person did not write in the last `REPLICA_PIN_SECONDS` (a cookie, and a cache key per user for clients
  that keep no cookies): who just wrote reads the primary and so sees what they wrote;
- the replica answers, within `REPLICA_MAX_LAG_SECONDS` of the primary. A replica that does not answer is left
  alone for `REPLICA_RETRY_SECONDS` in this process; its reads go to the primary meanwhile, never a 5xx. One
  that fails under a read request's view after all has the view run again on the primary.

Writes always go to the primary, whichever database an object was read from. docs/scaling.md says what reads
where and why.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from contextlib import ContextDecorator, suppress
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import DatabaseError, InterfaceError

from .cache import cache_call

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"
PIN_COOKIE = "yibao_primary_until"
READ_METHODS = frozenset({"GET", "HEAD"})
# Whether the replica applies what it received: a caught-up replica has no lag, whatever the time since the
# last write it replayed.
_LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)

OK, LAGGING, UNAVAILABLE = "ok", "lagging", "unavailable"


@dataclass
class _RequestState:
    request: object
    alias: str | None = None  # decided at the first read that may use the replica
    wrote: bool = False
    scoped: bool = False  # the whole view reads as within replica_reads()
    retried: bool = False  # the view was run again on the primary after the replica failed under it


_state: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "yibao_db_request", default=None
)
_scoped: contextvars.ContextVar[bool] = contextvars.ContextVar("yibao_db_replica_reads", default=False)
_lock = threading.Lock()
_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def pin_seconds() -> int:
    return int(getattr(settings, "REPLICA_PIN_SECONDS", 5))


# --- Choosing the database of a read ---


def reading_alias() -> str:
    """The database for a read that may be a moment old: REPLICA or PRIMARY (see the module's rules)."""
    if not replica_configured() or connections[PRIMARY].in_atomic_block:
        return PRIMARY
    state = _state.get()
    if state is None:  # outside a request (a task, a command): no one to pin
        return REPLICA if replica_check() == OK else PRIMARY
    if state.alias is None:
        # Reads made while deciding (the session, the user) are the primary's.
        state.alias = PRIMARY
        request = state.request
        if getattr(request, "method", "GET") in READ_METHODS and not is_pinned(request):
            state.alias = REPLICA if replica_check() == OK else PRIMARY
    return state.alias


def for_reading(queryset):
    """`queryset` read from the replica when this request may (a read-only list); never write through it."""
    return queryset.using(reading_alias())


class replica_reads(ContextDecorator):  # noqa: N801 - reads as a statement: `with replica_reads():`
    """Within it (or the decorated view), reads without a database of their own go where `reading_alias()`
    says; objects keep reading their related rows from the database they came from."""

    def _recreate_cm(self):
        return type(self)()  # one per call: the decorated view runs in many threads at once

    def __enter__(self):
        self._token = _scoped.set(True)
        return self

    def __exit__(self, *exc):
        _scoped.reset(self._token)
        return False


class PrimaryReplicaRouter:
    """Writes and migrations to the primary; reads to the primary unless chosen for the replica (module doc)."""

    def db_for_read(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA and not replica_down():
            return REPLICA
        if _scoped.get() or _view_scoped():
            return reading_alias()
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


# --- Read-your-writes: the pin to the primary ---


def _pin_key(user_id) -> str:
    return f"replica-pin:{user_id}"


def _user_id(request):
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def is_pinned(request) -> bool:
    """Whether this person wrote less than REPLICA_PIN_SECONDS ago (their reads go to the primary)."""
    try:
        if float(request.COOKIES.get(PIN_COOKIE, "0")) > time.time():
            return True
    except ValueError:
        pass  # a cookie we did not write: ignored
    user_id = _user_id(request)
    if user_id is None:
        return False
    # The cache away: not knowing, read the primary.
    return bool(cache_call(lambda: cache.get(_pin_key(user_id)), fallback=True, what="replica pin"))


def pin(request, response) -> None:
    """Send this person's reads to the primary for REPLICA_PIN_SECONDS (they just wrote)."""
    seconds = pin_seconds()
    response.set_cookie(
        PIN_COOKIE,
        str(int(time.time()) + seconds),
        max_age=seconds,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    user_id = _user_id(request)
    if user_id is not None:
        cache_call(lambda: cache.set(_pin_key(user_id), 1, seconds), fallback=None, what="replica pin")


# --- The replica's health ---


def replica_down() -> bool:
    """True while this process leaves the replica alone (it failed less than REPLICA_RETRY_SECONDS ago)."""
    return _down_until > time.monotonic()


def replica_failed(error: BaseException) -> None:
    global _down_until
    with _lock:
        first = _down_until <= time.monotonic()
        _down_until = time.monotonic() + float(getattr(settings, "REPLICA_RETRY_SECONDS", 5))
    if first:  # once per outage and process
        logger.warning("Replica unavailable (%s); reading the primary for now.", type(error).__name__)
    # A connection that broke cannot even close cleanly; it is gone either way.
    with suppress(DatabaseError, InterfaceError):
        connections[REPLICA].close()


def replica_recovered() -> None:
    global _down_until
    with _lock:
        _down_until = 0.0


def replica_check(*, force: bool = False) -> str:
    """Ask the replica: OK, LAGGING (further behind than REPLICA_MAX_LAG_SECONDS) or UNAVAILABLE. Without
    `force`, a replica that failed a moment ago is not asked again yet."""
    if not replica_configured():
        return UNAVAILABLE
    if replica_down() and not force:
        return UNAVAILABLE
    connection = connections[REPLICA]
    try:
        # A connection kept from an earlier request may have broken since (the replica restarted).
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL if connection.vendor == "postgresql" else "SELECT 0")
            lag = float(cursor.fetchone()[0])
    except (DatabaseError, InterfaceError) as exc:
        replica_failed(exc)
        return UNAVAILABLE
    replica_recovered()
    return OK if lag <= float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 30)) else LAGGING


# --- Per request (core.middleware.ReplicaMiddleware) ---


def request_started(request) -> contextvars.Token:
    return _state.set(_RequestState(request=request))


def request_finished(token: contextvars.Token) -> bool:
    """End the request's state; whether it wrote to the primary."""
    state = _state.get()
    _state.reset(token)
    return bool(state and state.wrote)


def retry_on_primary(exception: BaseException) -> bool:
    """Whether a read request's view should run again on the primary: `exception` came from the replica
    (it died, or replay cancelled a query under it) after it answered this request's check. From now on
    this request reads the primary, and this process leaves the replica alone for a while."""
    state = _state.get()
    if (
        state is None
        or state.retried
        or state.alias != REPLICA
        or not isinstance(exception, DatabaseError | InterfaceError)
        or not connections[REPLICA].errors_occurred
    ):
        return False
    replica_failed(exception)
    state.alias, state.retried = PRIMARY, True
    return True


def read_replica_in_this_view() -> None:
    """The view this request runs reads as within `replica_reads()` (the admin's changelists)."""
    state = _state.get()
    if state is not None:
        state.scoped = True


def _view_scoped() -> bool:
    state = _state.get()
    return state is not None and state.scoped


# Writes no list shows: when a sign-in token or an API key was last used (written back now and then on a read).
_BOOKKEEPING = (
    'UPDATE "accounts_authtoken" SET "last_used_at"',
    'UPDATE "accounts_apikey" SET "last_used_at"',
)


def watch_writes(execute, sql, params, many, context):
    """An execute wrapper on the primary: notes that the request wrote (for the pin)."""
    state = _state.get()
    if state is not None and not state.wrote:
        statement = sql.lstrip()
        if statement[:6].upper() in ("INSERT", "UPDATE", "DELETE") and not statement.startswith(_BOOKKEEPING):
            state.wrote = True
    return execute(sql, params, many, context)
