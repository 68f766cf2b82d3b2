from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from .choices import Channel, DeliveryStatus
from .events import EVENT_CHOICES
from .rendering import Message, message_render


class Notification(models.Model):
    """One event told to one person: the in-app inbox copy and the parent of its channel deliveries.

    The context holds ids, place names, dates and reasons only, never personal data; the text is rendered
    from templates in the reader's language.
    """

    # Indexed by notif_inbox_idx, which starts with it.
    person = models.ForeignKey(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    event = models.CharField(_("event"), max_length=32, choices=EVENT_CHOICES)
    context = models.JSONField(_("context"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["person", "-created_at"], name="notif_inbox_idx"),
            models.Index(fields=["person"], condition=Q(read_at__isnull=True), name="notif_unread_idx"),
            # The admin's filter by event; a plain index (db_index would add a LIKE twin nothing uses).
            models.Index(fields=["event"], name="notif_event_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} #{self.pk}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @cached_property
    def inbox_message(self) -> Message:
        """The inbox title and body in the person's current language (`{{ n.inbox_message.title }}`)."""
        return message_render(
            event=self.event, channel=Channel.INBOX, language=self.person.language, context=self.context
        )


class Delivery(models.Model):
    """A notification's send through one external channel (the outbox row a Celery task works on)."""

    # Indexed by delivery_once_per_channel, which starts with it.
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
    )  # indexed by delivery_due_idx, which starts with it
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    # When the next attempt is due; the sweep re-queues pending rows left well past it.
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel"),
            models.CheckConstraint(condition=~Q(channel=Channel.INBOX), name="delivery_not_inbox"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            # The outbox list's order (newest first), read backwards.
            models.Index(fields=["created_at", "id"], name="delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk} ({self.get_status_display()})"


class ChannelPreference(models.Model):
    """Which external channels a person wants; the in-app inbox always gets a copy."""

    person = models.OneToOneField(
        "accounts.InsuredPerson",
        verbose_name=_("insured person"),
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    sms = models.BooleanField(_("SMS"), default=True)
    wechat = models.BooleanField(_("WeChat"), default=True)
    email = models.BooleanField(_("email"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"#{self.person_id}"

    def wants(self, channel: str) -> bool:
        return channel == Channel.INBOX or bool(getattr(self, channel))
