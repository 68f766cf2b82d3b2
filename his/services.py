"""HIS interface writes: gateway credentials (issue, revoke) and the msgid record that makes a retry get the
first answer. The transactions themselves are in his.transactions, on the settlement, e-code and filing
services."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError

from .models import HisMessage, HisTerminal, MessageState

PAASID_PREFIX = "yb"
# A message still "in progress" after this long was abandoned (its process died): a retry takes it over. The
# settlement itself is idempotent by msgid (its request number), so the takeover never settles twice.
ABANDONED_AFTER = dt.timedelta(seconds=120)


@transaction.atomic
def his_terminal_create(
    *, operator, name: str, actor=None, paasid: str | None = None, secret: str | None = None
) -> tuple[HisTerminal, str]:
    """Issue a gateway credential for a counter operator; returns it and the clear secret (shown once).

    `paasid` and `secret` are for the demo seed only, which must print the same ones on every run.
    """
    if operator.role != "counter" or operator.institution_id is None:
        raise ServiceError("not_a_counter", _("Gateway credentials belong to counter operators."))
    secret = secret or secrets.token_hex(24)
    terminal = HisTerminal.objects.create(
        operator=operator, name=name, paasid=paasid or f"{PAASID_PREFIX}{secrets.token_hex(8)}", secret=secret
    )
    audit_record(
        actor=actor,
        action="his_terminal.create",
        target=terminal,
        to_state="active",
        data={"institution": operator.institution.code, "paasid": terminal.paasid},
    )
    return terminal, secret


@transaction.atomic
def his_terminal_revoke(*, terminal: HisTerminal, actor=None, reason: str = "") -> HisTerminal:
    if terminal.revoked_at is None:
        terminal.revoked_at = timezone.now()
        terminal.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="his_terminal.revoke",
            target=terminal,
            from_state="active",
            to_state="revoked",
            reason=reason,
        )
    return terminal


def message_begin(*, institution, msgid: str, infno: str) -> tuple[HisMessage | None, str | None]:
    """Claim a msgid for this request: (message, None) to go on, or (None, stored answer) for a retry of an
    answered one, or (None, None) while another request with it is still being answered."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return (
                HisMessage.objects.create(institution=institution, msgid=msgid, infno=infno, started_at=now),
                None,
            )
    except IntegrityError:
        pass
    found = HisMessage.objects.filter(institution=institution, msgid=msgid).first()
    if found is None:  # removed meanwhile (its request failed unexpectedly): the retry may go on
        return message_begin(institution=institution, msgid=msgid, infno=infno)
    if found.state == MessageState.DONE:
        return None, found.answer
    taken = HisMessage.objects.filter(
        pk=found.pk, state=MessageState.IN_PROGRESS, started_at__lt=now - ABANDONED_AFTER
    ).update(started_at=now)
    if taken:
        found.started_at = now
        return found, None
    return None, None


def message_finish(message: HisMessage, answer: str) -> None:
    """Keep the answer (inside the transaction of what it answers, when there is one)."""
    message.state = MessageState.DONE
    message.answer = answer
    message.answered_at = timezone.now()
    message.save(update_fields=["state", "answer", "answered_at"])


def message_forget(message: HisMessage) -> None:
    """The request failed unexpectedly: nothing was answered, so a retry starts afresh."""
    HisMessage.objects.filter(pk=message.pk, state=MessageState.IN_PROGRESS).delete()
