from enum import Enum


class NotificationErrorCode(str, Enum):
    NOTIFICATION_NOT_FOUND = "notification_not_found"
    DELIVERY_NOT_RETRYABLE = "delivery_not_retryable"


class ProviderError(Exception):
    """A provider could not send a message. The message must never contain personal data."""
