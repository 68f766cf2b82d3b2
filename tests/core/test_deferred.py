"""The deferred-work outbox (core.deferred): written with the change, run once after the commit, retried, swept."""

from datetime import timedelta
from functools import partial

import pytest
from django.db import transaction
from django.utils import timezone

from core.deferred import after_commit, deferrable, deferred_create, deferred_run, deferred_sweep
from core.models import DeferredTask

pytestmark = pytest.mark.django_db

CALLS: list[dict] = []


@deferrable
def remember(**kwargs):
    CALLS.append(kwargs)


@deferrable
def fail_with_personal_data(**kwargs):
    raise ValueError("ID number 330106198001010011")  # never to be stored or logged


def not_marked(**kwargs):
    CALLS.append(kwargs)


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


def test_work_is_recorded_with_the_change_and_runs_once_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        task = deferred_create(remember, settlement_id=7)
        assert DeferredTask.objects.get(pk=task.pk).status == "pending"
        assert CALLS == []  # nothing runs before the commit
    task.refresh_from_db()
    assert CALLS == [{"settlement_id": 7}]
    assert (task.status, task.attempts, task.handler) == ("done", 1, "tests.core.test_deferred.remember")
    assert task.done_at is not None


def test_a_rollback_takes_the_work_away_with_the_change(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        deferred_create(remember, settlement_id=7)
        raise RuntimeError
    assert not DeferredTask.objects.exists()
    assert callbacks == [] and CALLS == []


def test_a_duplicated_run_does_the_work_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        task = deferred_create(remember, settlement_id=7)
    assert deferred_run(deferred_id=task.pk) == "done"
    assert deferred_run(deferred_id=task.pk) is None
    assert CALLS == [{"settlement_id": 7}]


def test_a_failing_handler_is_retried_later_then_left_failed_with_its_error_class(settings, caplog):
    settings.DEFERRED_TASK_MAX_ATTEMPTS = 2
    task = DeferredTask.objects.create(handler="tests.core.test_deferred.fail_with_personal_data")
    assert deferred_run(deferred_id=task.pk) == "pending"
    task.refresh_from_db()
    assert task.last_error == "ValueError" and task.next_attempt_at > timezone.now()
    assert deferred_run(deferred_id=task.pk) == "failed"
    task.refresh_from_db()
    assert (task.status, task.attempts, task.last_error) == ("failed", 2, "ValueError")
    assert "330106" not in caplog.text


def test_only_a_handler_marked_deferrable_is_recorded_or_run():
    with pytest.raises(ValueError):
        deferred_create(not_marked, settlement_id=7)
    task = DeferredTask.objects.create(handler="tests.core.test_deferred.not_marked")
    assert deferred_run(deferred_id=task.pk) == "pending"
    assert CALLS == []
    task.refresh_from_db()
    assert task.last_error == "TypeError"


def test_the_sweep_runs_work_left_pending_or_running_and_forgets_old_done_rows(settings):
    settings.DEFERRED_TASK_PENDING_TIMEOUT_SECONDS = 60
    settings.DEFERRED_TASK_RUNNING_TIMEOUT_SECONDS = 300
    now = timezone.now()
    never_queued = DeferredTask.objects.create(
        handler="tests.core.test_deferred.remember",
        kwargs={"n": 1},
        next_attempt_at=now - timedelta(minutes=5),
    )
    just_queued = DeferredTask.objects.create(handler="tests.core.test_deferred.remember", kwargs={"n": 2})
    worker_died = DeferredTask.objects.create(
        handler="tests.core.test_deferred.remember",
        kwargs={"n": 3},
        status="running",
        attempts=1,
        claimed_at=now - timedelta(minutes=10),
    )
    old_done = DeferredTask.objects.create(
        handler="tests.core.test_deferred.remember", status="done", done_at=now - timedelta(days=30)
    )

    assert deferred_sweep() == 2  # tasks run in-process here, as soon as they are queued
    assert sorted(call["n"] for call in CALLS) == [1, 3]
    assert DeferredTask.objects.get(pk=never_queued.pk).status == "done"
    assert DeferredTask.objects.get(pk=worker_died.pk).attempts == 2
    assert DeferredTask.objects.get(pk=just_queued.pk).status == "pending"  # its task may still be queued
    assert not DeferredTask.objects.filter(pk=old_done.pk).exists()


def test_a_failing_after_commit_hook_is_logged_and_never_reaches_the_caller(
    django_capture_on_commit_callbacks, caplog
):
    def boom(**kwargs):
        raise ConnectionError("broker away")

    # A functools.partial has no __qualname__: Django's own log line of a failed robust hook raised with it.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        after_commit(partial(boom, attempt=1))
        after_commit(boom, attempt=2)
    assert caplog.text.count("in on_commit()") == 2
