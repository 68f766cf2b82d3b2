"""Delivery through a real Celery worker and a real Redis broker, both started (and stopped) by these tests.

The broker is a redis-server of our own on a free port, so it can be stopped and started again without
touching the machine's Redis. The worker runs `tests.notifications.worker_settings` against the pytest
database; the rows it must see are committed (transactional tests).
"""

import contextlib
import time
from collections import Counter
from pathlib import Path

import pytest

from notifications.choices import DeliveryStatus
from notifications.models import Delivery
from notifications.services import notification_create
from notifications.tasks import deliver, sweep_pending
from tests.factories import person_factory
from tests.workers import WAIT_SECONDS, Worker, wait_for

from .conftest import FAILING_PROVIDER, Outbox

# Committed rows, so that the worker sees them.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def outbox_dir(tmp_path, settings) -> Path:
    directory = tmp_path / "outbox"
    directory.mkdir()
    settings.NOTIFICATION_OUTBOX_DIR = directory
    return directory


@pytest.fixture
def start_worker(broker, outbox_dir):
    workers: list[Worker] = []

    def start(**environment: str) -> Worker:
        worker = Worker(broker=broker, outbox=outbox_dir, **environment)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _sent_by_channel(outbox_dir: Path) -> dict[str, list[str]]:
    """Idempotency keys of everything sent, per channel (files written by the worker's providers)."""
    outbox = Outbox(outbox_dir)
    sent = {
        channel: [m["idempotency_key"] for m in outbox.messages(channel)] for channel in ("sms", "wechat")
    }
    email_dir = outbox_dir / "email"
    emails = [p.read_text() for p in email_dir.iterdir()] if email_dir.exists() else []
    sent["email"] = [
        line.split(": ", 1)[1]
        for text in emails
        for line in text.splitlines()
        if line.startswith("X-Idempotency-Key: ")
    ]
    return sent


def _all_settled() -> bool:
    return not Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).exists()


def _assert_each_delivery_sent_exactly_once(outbox_dir: Path, worker: Worker) -> None:
    sent = _sent_by_channel(outbox_dir)
    for delivery in Delivery.objects.all():
        key = f"yibao-delivery-{delivery.pk}"
        assert delivery.status == DeliveryStatus.SENT, (delivery, delivery.last_error, worker.log())
        assert Counter(sent[delivery.channel])[key] == 1, (delivery, worker.log())
    assert sum(len(keys) for keys in sent.values()) == Delivery.objects.count()


def test_events_produce_exactly_one_message_per_channel(start_worker, outbox_dir):
    worker = start_worker()
    people = [person_factory(email=f"p{i}@example.com") for i in range(3)]

    for person in people:
        notification_create(person=person, event="filing_approved", context={"filing_id": person.pk})
        notification_create(person=person, event="ecode_used", context={"institution_name": "协和医院"})

    wait_for(_all_settled, what="the worker to deliver everything")
    assert Delivery.objects.count() == 2 * 3 * 3
    _assert_each_delivery_sent_exactly_once(outbox_dir, worker)


def test_a_task_delivered_several_times_sends_once(
    start_worker, outbox_dir, django_capture_on_commit_callbacks
):
    worker = start_worker()
    person = person_factory()
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    sms = Delivery.objects.get(channel="sms")

    # The same message four times, as a redelivery after a lost ack would do, on a 4-thread worker.
    for _ in range(4):
        deliver.delay(sms.pk)
    deliver.delay(Delivery.objects.get(channel="wechat").pk)

    wait_for(_all_settled, what="the worker to deliver")
    time.sleep(1)  # let the duplicates run to completion
    _assert_each_delivery_sent_exactly_once(outbox_dir, worker)
    assert Delivery.objects.get(channel="sms").attempts == 1


def test_broker_down_during_events_delays_but_loses_nothing(broker, start_worker, outbox_dir, caplog):
    worker = start_worker(NOTIFICATION_PENDING_TIMEOUT_SECONDS="1")
    people = [person_factory(email=f"q{i}@example.com") for i in range(4)]
    notification_create(person=people[0], event="filing_submitted", context={"filing_id": 1})
    wait_for(_all_settled, what="the worker to be up and deliver the first event")

    broker.stop()
    for person in people[1:]:
        notification_create(person=person, event="filing_approved", context={"filing_id": person.pk})
        notification_create(person=person, event="ecode_used", context={"institution_name": "协和医院"})
    # The events themselves succeeded: their rows are written, and queuing them failed quietly.
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3 * 2 * 3
    assert sum("the sweep will retry them" in r.getMessage() for r in caplog.records) == 3 * 2

    broker.start()
    time.sleep(2)
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3 * 2 * 3  # nothing was queued
    # Beat would send the sweep every minute; here the test sends it until everything is out.
    deadline = time.monotonic() + WAIT_SECONDS
    while not _all_settled():
        assert time.monotonic() < deadline, worker.log()
        with contextlib.suppress(Exception):  # this process may still be reconnecting
            sweep_pending.delay()
        time.sleep(1.5)

    _assert_each_delivery_sent_exactly_once(outbox_dir, worker)
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_failing_provider_retries_with_backoff_then_fails_with_the_error(start_worker, outbox_dir):
    worker = start_worker(
        NOTIFICATION_SMS_BACKEND=FAILING_PROVIDER,
        NOTIFICATION_MAX_ATTEMPTS="3",
        NOTIFICATION_RETRY_BASE_SECONDS="0.2",
        NOTIFICATION_RETRY_MAX_SECONDS="1",
    )
    person = person_factory(email="r@example.com")
    notification_create(person=person, event="filing_revoked", context={"filing_id": 1, "reason": "承诺不实"})

    wait_for(_all_settled, what="the retries to end")
    sms = Delivery.objects.get(channel="sms")
    assert sms.status == DeliveryStatus.FAILED, worker.log()
    assert sms.attempts == 3
    assert sms.last_error == "ProviderError: gateway unavailable (FailingProvider)"
    assert _sent_by_channel(outbox_dir)["sms"] == []
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 2
