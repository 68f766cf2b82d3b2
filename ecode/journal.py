"""The check journal: how a counter's verify is recorded without a database write on the request path.

A verify (a code checked, not used) is the most frequent request of the whole service and changes nothing, but
every one of them must be recorded. With ``ECODE_CHECK_JOURNAL`` on (production, on PostgreSQL and Redis) its
CodeEvent is appended to a Redis list in the request and written to PostgreSQL in batches by ``flush``: every
``ECODE_CHECK_FLUSH_SECONDS`` by Celery beat, at once when the list reaches ``FLUSH_AT`` entries, and before
anyone reads code events (a person's history, the admin list). What stays synchronous:

- a use (consume): its row is what a settlement refers to, and the one-use index decides races;
- a verify with a request number: a retry must find the stored answer;
- any verify when Redis cannot take the entry: it is inserted there and then, so a check is never lost.

The event's id is taken on the request path from the table's own sequence, reserved a block at a time per
process (one query per ``ID_BLOCK`` checks), so the counter gets its ``event_id`` at once and the row keeps it.
A flush inserts with ON CONFLICT DO NOTHING on that id and only then trims the list, so a flush that dies
half-way is repeated without a duplicate. An entry PostgreSQL refuses (a row it refers to was deleted in
between) goes to the ``DEAD_KEY`` list with the reason, logged, instead of blocking the ones after it.

Redis must keep the list through a restart (appendonly, as production is configured) for the guarantee to hold.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from .models import CodeEvent, CodeEventKind

logger = logging.getLogger(__name__)

BUFFER_KEY = "ecode:checks"
DEAD_KEY = "ecode:checks:dead"
LOCK_KEY = "ecode:checks:flush-lock"
FLUSH_AT = 1000  # entries waiting: ask a worker to flush now rather than at the next beat
BATCH = 1000  # entries per insert
ID_BLOCK = 200  # ids reserved per query
LOCK_SECONDS = 60

_ids: deque[int] = deque()
_ids_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url: str | None = None

# Release the flush lock only if it is still ours (it may have expired and been taken by another flusher).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# Remove a written batch from the head and extend the lock, only while the lock is still ours: a flusher whose
# lock expired must not trim what its successor has not written yet.
_TRIM = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('ltrim', KEYS[1], tonumber(ARGV[2]), -1)
redis.call('expire', KEYS[2], tonumber(ARGV[3]))
return 1
"""


def enabled() -> bool:
    return bool(getattr(settings, "ECODE_CHECK_JOURNAL", False)) and connection.vendor == "postgresql"


def _redis() -> redis.Redis:
    # One client per process; redis-py opens new connections after a fork by itself.
    global _client, _client_url
    if _client is None or _client_url != settings.REDIS_URL:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)
        _client_url = settings.REDIS_URL
    return _client


def _ids_reserve(count: int) -> list[int]:
    table, column = CodeEvent._meta.db_table, CodeEvent._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def event_id_next() -> int:
    """A new CodeEvent id from the table's sequence, without a query for most calls."""
    with _ids_lock:
        if not _ids:
            _ids.extend(_ids_reserve(ID_BLOCK))
        return _ids.popleft()


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _datetime(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


_FIELDS = (
    "id",
    "result",
    "credential_id",
    "person_id",
    "institution_id",
    "operator_id",
    "api_key_prefix",
    "subject",
    "kid",
)


def _encode(event: CodeEvent) -> bytes:
    values = [getattr(event, name) for name in _FIELDS]
    return json.dumps(
        [*values, _timestamp(event.created_at), _timestamp(event.token_iat)], separators=(",", ":")
    ).encode()


def _decode(raw: bytes) -> CodeEvent:
    *values, created_at, token_iat = json.loads(raw)
    if len(values) != len(_FIELDS):
        raise ValueError("wrong number of fields")
    return CodeEvent(
        kind=CodeEventKind.VERIFY,
        created_at=_datetime(created_at),
        token_iat=_datetime(token_iat),
        **dict(zip(_FIELDS, values, strict=True)),
    )


def append(event: CodeEvent) -> bool:
    """Give ``event`` (a verify without a request number) its id and append it to the journal.

    False when Redis could not take it: the caller then inserts the row itself (the id stays)."""
    if event.pk is None:
        event.pk = event_id_next()
    try:
        waiting = _redis().rpush(BUFFER_KEY, _encode(event))
    except redis.RedisError as exc:
        logger.warning("check journal unavailable, recording the check directly: %s", exc)
        return False
    if waiting % FLUSH_AT == 0:
        from .tasks import flush_checks

        try:
            flush_checks.delay()
        except Exception as exc:  # noqa: BLE001 - the beat flushes anyway; the check itself is recorded
            logger.warning("could not queue a flush of the check journal: %s", exc)
    return True


def waiting() -> int:
    """How many checks wait in the journal."""
    return int(_redis().llen(BUFFER_KEY))


def _insert_now(events: list[CodeEvent]) -> None:
    # Foreign keys are checked at the insert, not at a commit that may belong to a caller's transaction.
    # A rollback (to the savepoint) undoes the SET as well; on success it is set back to Django's default.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        CodeEvent.objects.bulk_create(events, ignore_conflicts=True)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _insert(events: list[CodeEvent]) -> None:
    try:
        _insert_now(events)
        return
    except IntegrityError:
        pass
    # Somewhere in the batch is a row PostgreSQL refuses: keep the others, set that one aside.
    for event in events:
        try:
            _insert_now([event])
        except IntegrityError as exc:
            _dead(_encode(event), str(exc))


def _dead(raw: bytes, reason: str) -> None:
    logger.error("check journal entry refused, kept in %s: %s", DEAD_KEY, reason)
    _redis().rpush(DEAD_KEY, json.dumps({"entry": raw.decode(errors="replace"), "reason": reason}))


def flush() -> int:
    """Write waiting checks to PostgreSQL, oldest first; returns how many entries it took from the journal
    (each one written, or set aside in ``DEAD_KEY`` when refused).

    One flusher at a time (a Redis lock); another caller returns 0 at once. Safe to repeat after a crash."""
    if not enabled():
        return 0
    client = _redis()
    if not client.llen(BUFFER_KEY):
        return 0
    token = uuid.uuid4().hex
    if not client.set(LOCK_KEY, token, nx=True, ex=LOCK_SECONDS):
        return 0
    written = 0
    try:
        while True:
            raws = client.lrange(BUFFER_KEY, 0, BATCH - 1)
            if not raws:
                break
            events = []
            for raw in raws:
                try:
                    events.append(_decode(raw))
                except (ValueError, TypeError, OverflowError) as exc:
                    _dead(raw, f"unreadable: {exc}")
            if events:
                _insert(events)
            written += len(raws)
            # Only the lock holder removes from the head; appends go to the tail meanwhile.
            if not client.eval(_TRIM, 2, BUFFER_KEY, LOCK_KEY, token, len(raws), LOCK_SECONDS):
                logger.warning("check journal flush lost its lock; the next flush goes on from here")
                break
    finally:
        client.eval(_RELEASE, 1, LOCK_KEY, token)
    return written


def flush_quietly() -> None:
    """``flush`` before a read, which must not fail because Redis is away (the rows then come a bit later)."""
    if not enabled():
        return
    try:
        flush()
    except redis.RedisError as exc:
        logger.warning("check journal not flushed before a read: %s", exc)
