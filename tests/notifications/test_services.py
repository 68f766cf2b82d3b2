import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import AuditEvent
from notifications.choices import DeliveryStatus
from notifications.models import ChannelPreference, Delivery, Notification
from notifications.services import (
    channel_preference_update,
    deliveries_sweep,
    delivery_retry,
    delivery_send,
    notification_create,
    retry_delay,
)
from notifications.tasks import deliver
from tests.factories import person_factory

from .conftest import FAILING_PROVIDER

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_event_writes_inbox_copy_and_one_delivery_per_channel(person, outbox, notify):
    notify(
        person, "filing_approved", {"filing_id": 3, "destination_name": "三亚市", "all_institutions": True}
    )

    notification = Notification.objects.get()
    assert notification.person == person and notification.event == "filing_approved"
    assert sorted(notification.deliveries.values_list("channel", flat=True)) == ["email", "sms", "wechat"]
    assert set(notification.deliveries.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert (outbox.count("sms"), outbox.count("wechat"), outbox.count("email")) == (1, 1, 1)


def test_sms_text_is_in_persons_language_without_phone_in_clear(outbox, notify):
    person = person_factory(language="en")
    notify(
        person,
        "ecode_used",
        {"institution_name": "Peking Union Medical College Hospital", "scene": "settlement"},
    )

    [sms] = outbox.messages("sms")
    assert sms["text"].startswith("Your e-code was used for settling a bill at Peking Union")
    assert person.phone not in str(sms) and sms["to"] == person.masked_phone
    assert sms["idempotency_key"] == f"yibao-delivery-{Delivery.objects.get(channel='sms').pk}"


def test_email_goes_to_the_persons_address_in_their_language(person, outbox, notify):
    notify(
        person, "filing_rejected", {"filing_id": 9, "reason": "证明材料不清晰", "hint": "请上传清晰的居住证"}
    )

    [email] = outbox.messages("email")
    assert email["to"] == ["zhang@example.com"]
    assert email["subject"] == "异地就医备案未通过"
    assert "原因：证明材料不清晰" in email["text"] and "如何处理：请上传清晰的居住证" in email["text"]


def test_nothing_is_written_or_sent_when_the_callers_transaction_rolls_back(
    person, outbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notification_create(person=person, event="filing_submitted", context={"filing_id": 1})
        raise RuntimeError("the filing could not be saved")

    assert callbacks == []
    assert not Notification.objects.exists() and not Delivery.objects.exists()
    assert outbox.count("sms") == 0


def test_delivery_is_queued_only_after_commit(person, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification_create(person=person, event="ecode_activated", context={})
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert outbox.count("sms") == 0

    for callback in callbacks:
        callback()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_unknown_event_is_a_programming_error(person):
    with pytest.raises(ValueError):
        notification_create(person=person, event="filing_teleported", context={})
    assert not Notification.objects.exists()


def test_context_dates_and_amounts_are_stored_as_strings(person, outbox, notify):
    notify(
        person,
        "settlement_completed",
        {
            "settlement_id": 5,
            "institution_name": "协和医院",
            "total": Decimal("120.50"),
            "person_pays": "30.00",
        },
    )
    notify(person, "filing_submitted", {"filing_id": 1, "review_deadline": dt.date(2026, 3, 2)})

    contexts = [n.context for n in Notification.objects.order_by("id")]
    assert contexts[0]["total"] == "120.50"
    assert contexts[1]["review_deadline"] == "2026-03-02"
    assert "审核截止：2026年3月2日" in Notification.objects.order_by("id").last().inbox_message.body


def test_channel_preferences_are_respected_and_inbox_always_gets_a_copy(person, outbox, notify):
    channel_preference_update(person=person, sms=False, wechat=False, email=False)
    notify(person, "filing_expired")

    assert Notification.objects.filter(person=person).count() == 1
    assert not Delivery.objects.exists()
    assert (outbox.count("sms"), outbox.count("wechat"), outbox.count("email")) == (0, 0, 0)


def test_only_the_chosen_channels_are_used(person, outbox, notify):
    channel_preference_update(person=person, sms=True, wechat=False, email=False)
    notify(person, "filing_expired")

    assert list(Delivery.objects.values_list("channel", flat=True)) == ["sms"]
    assert (outbox.count("sms"), outbox.count("wechat"), outbox.count("email")) == (1, 0, 0)


def test_no_email_delivery_without_an_address(outbox, notify):
    person = person_factory()
    notify(person, "ecode_activated", {})

    assert sorted(Delivery.objects.values_list("channel", flat=True)) == ["sms", "wechat"]
    assert outbox.count("email") == 0


def test_a_duplicated_task_sends_only_once(person, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    sms = Delivery.objects.get(channel="sms")

    deliver.apply(args=(sms.pk,))
    deliver.apply(args=(sms.pk,))
    assert delivery_send(delivery_id=sms.pk) is None

    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.SENT and sms.attempts == 1
    assert outbox.count("sms") == 1


def test_a_row_claimed_by_another_worker_is_not_sent_again(
    person, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    sms = Delivery.objects.get(channel="sms")
    Delivery.objects.filter(pk=sms.pk).update(status=DeliveryStatus.SENDING, claimed_at=timezone.now())

    deliver.apply(args=(sms.pk,))
    assert outbox.count("sms") == 0


def test_failing_provider_retries_then_ends_failed_with_the_error(person, outbox, notify, settings):
    settings.NOTIFICATION_SMS_BACKEND = FAILING_PROVIDER
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    notify(person, "filing_revoked", {"filing_id": 2, "reason": "承诺不实"})

    sms = Delivery.objects.get(channel="sms")
    assert sms.status == DeliveryStatus.FAILED
    assert sms.attempts == 3
    assert sms.last_error == "ProviderError: gateway unavailable (FailingProvider)"
    assert sms.sent_at is None
    # The other channels are unaffected.
    assert outbox.count("wechat") == 1 and outbox.count("email") == 1


def test_a_failed_attempt_is_rescheduled_with_backoff(
    person, outbox, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_SMS_BACKEND = FAILING_PROVIDER
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 2
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    sms = Delivery.objects.get(channel="sms")

    before = timezone.now()
    attempt = delivery_send(delivery_id=sms.pk)

    sms.refresh_from_db()
    assert attempt.retry_in == 2
    assert sms.status == DeliveryStatus.PENDING and sms.attempts == 1 and "FailingProvider" in sms.last_error
    assert sms.next_attempt_at >= before + dt.timedelta(seconds=2)


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 2
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 20
    assert [retry_delay(attempts=n) for n in range(1, 7)] == [2, 4, 8, 16, 20, 20]


def test_sweep_requeues_only_overdue_pending_deliveries(
    person, outbox, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_PENDING_TIMEOUT_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    assert deliveries_sweep() == 0  # just written: its task is presumably on its way

    Delivery.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=61))
    assert deliveries_sweep() == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert (outbox.count("sms"), outbox.count("wechat"), outbox.count("email")) == (1, 1, 1)
    assert deliveries_sweep(now=timezone.now() + dt.timedelta(hours=1)) == 0


def test_sweep_recovers_a_delivery_whose_worker_died_mid_send(
    person, outbox, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=False):
        notification_create(person=person, event="ecode_activated", context={})
    long_ago = timezone.now() - dt.timedelta(seconds=301)
    Delivery.objects.update(status=DeliveryStatus.SENDING, attempts=1, claimed_at=long_ago)

    deliveries_sweep()

    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}


def test_retry_of_a_failed_delivery_starts_over_and_is_audited(
    person, outbox, notify, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_SMS_BACKEND = FAILING_PROVIDER
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notify(person, "ecode_activated", {})
    sms = Delivery.objects.get(channel="sms")
    assert sms.status == DeliveryStatus.FAILED

    settings.NOTIFICATION_SMS_BACKEND = "notifications.providers.FileProvider"
    with django_capture_on_commit_callbacks(execute=True):
        delivery_retry(delivery=sms)

    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.SENT and sms.attempts == 1
    assert outbox.count("sms") == 1
    audit = AuditEvent.objects.get(action="notifications.delivery_retry")
    assert (audit.from_state, audit.to_state) == ("failed", "pending")


def test_a_sent_delivery_cannot_be_retried(person, outbox, notify):
    notify(person, "ecode_activated", {})
    with pytest.raises(Exception) as error:
        delivery_retry(delivery=Delivery.objects.get(channel="sms"))
    assert error.value.code == "delivery_not_retryable"
    assert outbox.count("sms") == 1


def test_preference_update_keeps_one_row_per_person(person):
    channel_preference_update(person=person, sms=False, wechat=True, email=True)
    channel_preference_update(person=person, sms=True, wechat=False, email=True)
    assert ChannelPreference.objects.filter(person=person).count() == 1
    assert ChannelPreference.objects.get(person=person).wechat is False
