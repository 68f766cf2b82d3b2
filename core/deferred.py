"""Work that runs after a commit and must not be lost when the broker or the workers are away.

`deferred_create(handler, **kwargs)` writes an outbox row in the caller's transaction and queues it once that
transaction commits; if the broker cannot take it then, the row waits and the beat sweep (`deferred_sweep`,
every minute) queues it later. A worker claims the row pending→running with a conditional UPDATE, so a
duplicated or redelivered task runs the handler at most once per claim; a handler that fails is tried again
with a backoff, then left `failed` with the error's class name. Handlers must be idempotent all the same: a
worker that dies mid-run leaves the row `running`, and the sweep runs it again.

`after_commit` and `task_publish` are the two pieces every after-commit hook needs (notifications use them
too): a hook that never raises into the request that committed, and a publish that gives up quickly, for a
while, when the broker is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import DeferredTask

logger = logging.getLogger(__name__)

# Publishing must not hold up the request that committed: a short retry, then the row waits for the sweep.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# After a failed publish this process stops trying for a while: during an outage each request would
# otherwise wait out the retries above (seconds, on a network that drops packets) for nothing.
PUBLISH_PAUSE_SECONDS = 5.0

_lock = threading.Lock()
_publish_paused_until = 0.0

Status = DeferredTask.Status


# --- After-commit hooks and publishing --------------------------------------------------------------------


def after_commit(func: Callable[..., object], /, **kwargs) -> None:
    """Call `func(**kwargs)` once the current transaction commits (at once outside one).

    An exception is logged and never reaches the request that committed: what the hook starts must be
    recorded durably before (an outbox row), so that a sweep can start it again.
    """

    def hook() -> None:
        func(**kwargs)

    # Django logs a failing robust hook by its __qualname__ (a functools.partial has none, and the log line
    # itself then raised into the request: issue #13).
    hook.__qualname__ = getattr(func, "__qualname__", "after_commit hook")
    transaction.on_commit(hook, robust=True)


def task_publish(task, *args, **kwargs) -> bool:
    """Queue one Celery task; never raises. False when the broker could not take it (the caller's outbox row
    stays pending and its sweep queues it later)."""
    global _publish_paused_until
    if broker_degraded():
        return False
    try:
        task.apply_async(args, kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the work waits for the sweep
        with _lock:
            first = _publish_paused_until <= time.monotonic()
            _publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
        if first:
            logger.warning(
                "Broker unavailable (%s): tasks wait in their outbox for the sweep.", type(exc).__name__
            )
        return False
    return True


def broker_degraded() -> bool:
    """True while this process holds back publishing after a failure (less than PUBLISH_PAUSE_SECONDS ago)."""
    return _publish_paused_until > time.monotonic()


def broker_recovered() -> None:
    """Publish again at once (the broker answered a direct check)."""
    global _publish_paused_until
    with _lock:
        _publish_paused_until = 0.0


# --- The outbox -------------------------------------------------------------------------------------------


def deferrable(func: Callable[..., object]) -> Callable[..., object]:
    """Mark `func` as runnable from the outbox. It takes keyword arguments that JSON can hold (ids, never
    instances or personal data) and running it twice does no harm. Its dotted path is stored in the rows:
    a handler that moves keeps its old name as an alias until its rows are done."""
    func.deferrable = True  # type: ignore[attr-defined]  # a mark on the function object
    return func


def _handler_path(func: Callable[..., object]) -> str:
    if not getattr(func, "deferrable", False):
        raise ValueError(f"{func.__qualname__} is not marked @deferrable")
    return f"{func.__module__}.{func.__qualname__}"


@transaction.atomic
def deferred_create(handler: Callable[..., object], /, **kwargs) -> DeferredTask:
    """Record `handler(**kwargs)` in the caller's transaction; it is queued once that transaction commits
    and run once by a worker (in-process where tasks run eagerly). A rollback removes it with the rest."""
    task = DeferredTask.objects.create(handler=_handler_path(handler), kwargs=kwargs)
    after_commit(deferred_enqueue, ids=[task.pk])
    return task


def deferred_enqueue(*, ids: list[int]) -> int:
    """Queue a run per id; never raises. Returns how many were queued (the rest wait for the sweep)."""
    from .tasks import run_deferred

    queued = 0
    for deferred_id in ids:
        if not task_publish(run_deferred, deferred_id):
            break
        queued += 1
    return queued


def deferred_run(*, deferred_id: int) -> str | None:
    """Run one pending row's handler, if this call claims it; returns the row's new status, or None when
    there was nothing to claim (already running, done or failed: a duplicated task)."""
    now = timezone.now()
    claimed = DeferredTask.objects.filter(pk=deferred_id, status=Status.PENDING).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not claimed:
        return None
    task = DeferredTask.objects.get(pk=deferred_id)
    try:
        handler = import_string(task.handler)
        if not getattr(handler, "deferrable", False):
            raise TypeError("the handler is not marked @deferrable")
        handler(**task.kwargs)
    except Exception as exc:  # noqa: BLE001 - recorded on the row, retried, never lost
        return _failed(task, error=type(exc).__name__)
    DeferredTask.objects.filter(pk=task.pk, status=Status.RUNNING).update(
        status=Status.DONE, done_at=timezone.now(), last_error=""
    )
    return Status.DONE


def _failed(task: DeferredTask, *, error: str) -> str:
    # The class name only: an exception's message may quote personal data.
    logger.warning("Deferred %s #%s failed (%s), attempt %d.", task.handler, task.pk, error, task.attempts)
    if task.attempts >= settings.DEFERRED_TASK_MAX_ATTEMPTS:
        DeferredTask.objects.filter(pk=task.pk, status=Status.RUNNING).update(
            status=Status.FAILED, last_error=error
        )
        return Status.FAILED
    delay = min(60 * 2 ** (task.attempts - 1), 3600)
    DeferredTask.objects.filter(pk=task.pk, status=Status.RUNNING).update(
        status=Status.PENDING, last_error=error, next_attempt_at=timezone.now() + timedelta(seconds=delay)
    )
    return Status.PENDING


def deferred_sweep(*, now=None) -> int:
    """Queue again what is overdue and return the count: pending rows left past their due time by more than
    DEFERRED_TASK_PENDING_TIMEOUT_SECONDS (the broker was down, a task was lost, a retry fell due), and rows
    `running` for longer than DEFERRED_TASK_RUNNING_TIMEOUT_SECONDS (their worker died). Done rows older than
    DEFERRED_TASK_KEEP_DAYS are removed."""
    now = now or timezone.now()
    pending_before = now - timedelta(seconds=settings.DEFERRED_TASK_PENDING_TIMEOUT_SECONDS)
    running_before = now - timedelta(seconds=settings.DEFERRED_TASK_RUNNING_TIMEOUT_SECONDS)
    with transaction.atomic():
        stuck = (
            DeferredTask.objects.select_for_update(skip_locked=True)
            .filter(status=Status.RUNNING, claimed_at__lt=running_before)
            .values_list("pk", "attempts")
        )
        for pk, attempts in list(stuck):
            if attempts >= settings.DEFERRED_TASK_MAX_ATTEMPTS:
                DeferredTask.objects.filter(pk=pk).update(status=Status.FAILED, last_error="interrupted")
            else:
                DeferredTask.objects.filter(pk=pk).update(
                    status=Status.PENDING, next_attempt_at=pending_before, last_error="interrupted"
                )
        overdue = list(
            DeferredTask.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=pending_before)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:1000]
        )
        # Not overdue again until another timeout passes, so a slow queue is not flooded with repeats.
        DeferredTask.objects.filter(pk__in=overdue).update(next_attempt_at=now)
    kept_since = now - timedelta(days=settings.DEFERRED_TASK_KEEP_DAYS)
    old = DeferredTask.objects.filter(status=Status.DONE, done_at__lt=kept_since).values_list("pk", flat=True)
    DeferredTask.objects.filter(pk__in=list(old[:5000])).delete()
    if overdue:
        deferred_enqueue(ids=overdue)
    return len(overdue)
