"""Reading e-code data: a person's credential and code history, and the uses that settlements refer to."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ServiceError

from .errors import EcodeServiceErrorCode
from .models import CodeEvent, CodeEventKind, Credential

# A settlement must follow the scan that identified the patient closely; an older use cannot be settled.
SETTLEMENT_USE_WINDOW = timedelta(minutes=30)


def credential_for_person(*, person) -> Credential | None:
    """The person's e-code credential, or None if they never activated it."""
    return Credential.objects.filter(person=person).select_related("person").first()


def code_events_for_person(*, person) -> QuerySet[CodeEvent]:
    """Where and when the person's codes were checked or used, newest first."""
    return (
        CodeEvent.objects.filter(person=person).select_related("institution").order_by("-created_at", "-id")
    )


def code_event_for_settlement(*, event_id: int, institution, now=None) -> CodeEvent:
    """The successful use ``event_id`` made by ``institution`` within the last 30 minutes.

    Raise ServiceError ``unknown_use`` (404), ``wrong_institution`` (403) or ``use_expired`` (409).
    """
    event = (
        CodeEvent.objects.select_related("institution", "credential", "person__insured_region")
        .filter(pk=event_id, kind=CodeEventKind.CONSUME, result="ok")
        .first()
        if isinstance(event_id, int) and not isinstance(event_id, bool) and 0 < event_id < 1 << 63
        else None
    )
    if event is None:
        raise ServiceError(
            EcodeServiceErrorCode.UNKNOWN_USE, _("There is no such use of an e-code."), status=404
        )
    if event.institution_id != institution.pk:
        raise ServiceError(
            EcodeServiceErrorCode.WRONG_INSTITUTION,
            _("This use of an e-code belongs to another institution."),
            status=403,
        )
    if (now or timezone.now()) - event.created_at > SETTLEMENT_USE_WINDOW:
        raise ServiceError(
            EcodeServiceErrorCode.USE_EXPIRED,
            _("This use of the e-code is too old to settle; scan a new code."),
            status=409,
        )
    return event
