"""The events a person is told about; each has a template per channel and language."""

from enum import Enum

from django.utils.translation import gettext_lazy as _


class Event(str, Enum):
    FILING_SUBMITTED = "filing_submitted"
    FILING_APPROVED = "filing_approved"
    FILING_REJECTED = "filing_rejected"
    FILING_REVOKED = "filing_revoked"
    FILING_CANCELLED = "filing_cancelled"
    FILING_EXPIRING = "filing_expiring"
    FILING_EXPIRED = "filing_expired"
    ECODE_ACTIVATED = "ecode_activated"
    ECODE_SUSPENDED = "ecode_suspended"
    ECODE_USED = "ecode_used"
    SETTLEMENT_COMPLETED = "settlement_completed"
    SETTLEMENT_REVERSED = "settlement_reversed"
    SETTLEMENT_CORRECTED = "settlement_corrected"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self):
        return EVENT_LABELS[self]


EVENT_LABELS = {
    Event.FILING_SUBMITTED: _("Filing submitted"),
    Event.FILING_APPROVED: _("Filing approved"),
    Event.FILING_REJECTED: _("Filing rejected"),
    Event.FILING_REVOKED: _("Filing revoked"),
    Event.FILING_CANCELLED: _("Filing cancelled"),
    Event.FILING_EXPIRING: _("Filing expiring soon"),
    Event.FILING_EXPIRED: _("Filing expired"),
    Event.ECODE_ACTIVATED: _("E-code activated"),
    Event.ECODE_SUSPENDED: _("E-code suspended"),
    Event.ECODE_USED: _("E-code used"),
    Event.SETTLEMENT_COMPLETED: _("Settlement completed"),
    Event.SETTLEMENT_REVERSED: _("Settlement reversed"),
    Event.SETTLEMENT_CORRECTED: _("Settlement corrected"),
}

EVENT_CHOICES = [(event.value, label) for event, label in EVENT_LABELS.items()]
