"""Writing notifications: the outbox rows (in the caller's transaction), their delivery, the inbox state."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import audit_record
from core.deferred import after_commit, task_publish
from core.errors import ServiceError

from .choices import Channel, DeliveryStatus
from .errors import NotificationErrorCode, ProviderError
from .events import Event
from .models import ChannelPreference, Delivery, Notification
from .providers import provider_for
from .rendering import message_render
from .selectors import channel_preference_get

logger = logging.getLogger(__name__)


def _external_channels(*, person) -> list[str]:
    preference = channel_preference_get(person=person)
    channels = []
    # WeChat template messages reach the subscriber bound to the person's mobile number.
    if preference.sms and person.phone:
        channels.append(Channel.SMS.value)
    if preference.wechat and person.phone:
        channels.append(Channel.WECHAT.value)
    if preference.email and person.email:
        channels.append(Channel.EMAIL.value)
    return channels


@transaction.atomic
def notification_create(*, person, event: str, context: dict) -> None:
    """Writes the inbox copy and one pending delivery per channel the person wants, in the caller's
    transaction; delivery is queued only once that transaction commits.

    `context` holds ids, place names, dates and reasons only (never personal data). An unknown event is a
    programming error (ValueError).
    """
    event = Event(event)
    # Dates, datetimes and Decimals become strings here, so the row holds exactly what templates will see.
    context = json.loads(json.dumps(context or {}, cls=DjangoJSONEncoder))
    now = timezone.now()
    notification = Notification.objects.create(
        person=person, event=event.value, context=context, created_at=now
    )
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(notification=notification, channel=channel, next_attempt_at=now, created_at=now)
            for channel in _external_channels(person=person)
        ]
    )
    if deliveries:
        after_commit(deliveries_enqueue, delivery_ids=[d.pk for d in deliveries])


def deliveries_enqueue(*, delivery_ids: list[int]) -> int:
    """Queues a delivery task per id; never raises. Returns how many were queued (the rest wait for the sweep)."""
    from .tasks import deliver

    queued = 0
    for delivery_id in delivery_ids:
        if not task_publish(deliver, delivery_id):
            # The broker is unreachable: the rows stay pending and the sweep queues them later.
            logger.warning(
                "Could not queue %d notification deliveries; the sweep will retry them.",
                len(delivery_ids) - queued,
            )
            break
        queued += 1
    return queued


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt did: `retry_in` seconds when another attempt is due."""

    status: str
    retry_in: float | None = None


def retry_delay(*, attempts: int) -> float:
    """Exponential backoff after the given number of failed attempts, capped."""
    base = float(settings.NOTIFICATION_RETRY_BASE_SECONDS)
    return min(base * 2 ** max(attempts - 1, 0), float(settings.NOTIFICATION_RETRY_MAX_SECONDS))


def delivery_send(*, delivery_id: int) -> Attempt | None:
    """Sends one pending delivery at most once, whatever number of tasks run for it.

    The row is claimed pending→sending by a conditional UPDATE, so a duplicated or redelivered task finds
    nothing to do and returns None. A provider failure puts the row back to pending with a backoff, or to
    failed after NOTIFICATION_MAX_ATTEMPTS attempts.
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("notification__person__user").get(pk=delivery_id)
    try:
        message_id = _send(delivery)
    except Exception as exc:
        return _delivery_failed(delivery=delivery, error=_describe(exc))
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        provider_message_id=message_id[:128],
        last_error="",
    )
    return Attempt(status=DeliveryStatus.SENT)


def _describe(exc: Exception) -> str:
    # Only our ProviderError promises a message free of personal data (SMTP errors quote the address).
    if isinstance(exc, ProviderError):
        return f"ProviderError: {exc}"[:1000]
    return type(exc).__name__


def _delivery_failed(*, delivery: Delivery, error: str) -> Attempt:
    if delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED, last_error=error
        )
        logger.warning("Notification delivery %s failed after %d attempts.", delivery.pk, delivery.attempts)
        return Attempt(status=DeliveryStatus.FAILED)
    delay = retry_delay(attempts=delivery.attempts)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    return Attempt(status=DeliveryStatus.PENDING, retry_in=delay)


def _send(delivery: Delivery) -> str:
    notification = delivery.notification
    person = notification.person
    message = message_render(
        event=notification.event,
        channel=delivery.channel,
        language=person.language,
        context=notification.context,
    )
    key = f"yibao-delivery-{delivery.pk}"
    if delivery.channel == Channel.EMAIL:
        if not person.email:
            raise ProviderError("the person has no email address")
        email = EmailMessage(
            subject=message.title, body=message.body, to=[person.email], headers={"X-Idempotency-Key": key}
        )
        email.send()
        return key
    if not person.phone:
        raise ProviderError("the person has no mobile number")
    return provider_for(delivery.channel).send(
        to=person.phone,
        template_code=notification.event,
        params=notification.context,
        text=message.text,
        idempotency_key=key,
    )


def deliveries_sweep(*, now=None) -> int:
    """Queues again what is overdue: pending rows left past their due time by more than
    NOTIFICATION_PENDING_TIMEOUT_SECONDS (the broker was down, or a retry was lost), and rows stuck in
    `sending` longer than NOTIFICATION_SENDING_TIMEOUT_SECONDS (the worker died mid-send). Returns the count.
    """
    now = now or timezone.now()
    pending_before = now - timedelta(seconds=settings.NOTIFICATION_PENDING_TIMEOUT_SECONDS)
    sending_before = now - timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.SENDING, claimed_at__lt=sending_before)
            .values_list("pk", "attempts")
        )
        for pk, attempts in stuck:
            if attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
                Delivery.objects.filter(pk=pk).update(
                    status=DeliveryStatus.FAILED, last_error="interrupted while sending"
                )
            else:
                # The gateway may have sent it before the worker died: the idempotency key lets it drop a repeat.
                Delivery.objects.filter(pk=pk).update(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=pending_before,
                    last_error="interrupted while sending",
                )
        overdue = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=pending_before)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:1000]
        )
        # Not overdue again until another timeout passes, so a slow queue is not flooded with repeats.
        Delivery.objects.filter(pk__in=overdue).update(next_attempt_at=now)
    if overdue:
        deliveries_enqueue(delivery_ids=overdue)
    return len(overdue)


@transaction.atomic(durable=True)
def delivery_retry(*, delivery: Delivery, actor=None) -> Delivery:
    """Starts a failed (or pending) delivery over with a fresh attempt budget, queued on commit."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status not in (DeliveryStatus.FAILED, DeliveryStatus.PENDING):
        raise ServiceError(
            NotificationErrorCode.DELIVERY_NOT_RETRYABLE,
            _("Only failed or pending deliveries can be retried."),
        )
    previous = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.claimed_at = None
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "claimed_at"])
    audit_record(
        actor=actor,
        action="notifications.delivery_retry",
        target=delivery,
        from_state=previous,
        to_state=delivery.status,
        data={"last_error": delivery.last_error[:200]},
    )
    after_commit(deliveries_enqueue, delivery_ids=[delivery.pk])
    return delivery


def _owned(*, person, notification_id: int) -> Notification:
    notification = Notification.objects.filter(pk=notification_id, person=person).first()
    if notification is None:
        # Another person's notification is reported as missing, never as forbidden.
        raise ServiceError(
            NotificationErrorCode.NOTIFICATION_NOT_FOUND, _("Notification not found."), status=404
        )
    return notification


@transaction.atomic
def notification_mark_read(*, person, notification_id: int) -> Notification:
    """Marks one of the person's notifications read (a second call keeps the first time)."""
    notification = _owned(person=person, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, person) -> int:
    """Marks all the person's unread notifications read; returns how many changed."""
    return Notification.objects.filter(person=person, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def channel_preference_update(*, person, sms: bool, wechat: bool, email: bool) -> ChannelPreference:
    """Sets which external channels the person wants (the inbox always gets a copy)."""
    preference, _created = ChannelPreference.objects.update_or_create(
        person=person, defaults={"sms": sms, "wechat": wechat, "email": email}
    )
    return preference
