from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """Where a message goes. The in-app inbox copy is the Notification row itself."""

    INBOX = "inbox", _("In-app inbox")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat template message")
    EMAIL = "email", _("Email")


# Channels delivered through a provider, each as one Delivery row.
EXTERNAL_CHANNELS = (Channel.SMS, Channel.WECHAT, Channel.EMAIL)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
