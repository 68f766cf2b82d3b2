"""Whether a person's e-code credential is active, suspended or revoked, and who may change it."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import CommonErrorCode, ServiceError
from notifications.services import notification_create

from ..errors import EcodeServiceErrorCode
from ..models import Credential, CredentialStatus
from .verify import _MEMBER_ID_BITS


def _member_id_new() -> int:
    while True:
        member_id = secrets.randbits(_MEMBER_ID_BITS)
        if member_id and not Credential.objects.filter(member_id=member_id).exists():
            return member_id


@transaction.atomic
def credential_activate(*, person, actor) -> Credential:
    """Activate the e-code of an active insured person, once; a second activation is refused."""
    if not person.is_active:
        raise ServiceError(
            EcodeServiceErrorCode.PERSON_INACTIVE,
            _("Only an insured person whose insurance is active can activate the e-code."),
            status=409,
        )
    if Credential.objects.filter(person=person).exists():
        raise ServiceError(
            EcodeServiceErrorCode.ALREADY_ACTIVATED, _("The e-code is already activated."), status=409
        )
    credential = Credential(person=person, member_id=_member_id_new(), activated_at=timezone.now())
    try:
        with transaction.atomic():
            credential.save(force_insert=True)
    except IntegrityError:  # a concurrent activation won
        raise ServiceError(
            EcodeServiceErrorCode.ALREADY_ACTIVATED, _("The e-code is already activated."), status=409
        ) from None
    audit_record(actor=actor, action="ecode.activate", target=credential, to_state=credential.status)
    notification_create(person=person, event="ecode_activated", context={})
    return credential


def _credential_locked(credential: Credential) -> Credential:
    return Credential.objects.select_for_update().select_related("person").get(pk=credential.pk)


def _transition(
    *, credential: Credential, actor, allowed: tuple[str, ...], to: str, action: str, reason: str = ""
) -> Credential:
    locked = _credential_locked(credential)
    if locked.status not in allowed:
        raise ServiceError(
            EcodeServiceErrorCode.INVALID_TRANSITION,
            _("This e-code cannot go from %(from)s to %(to)s.")
            % {"from": locked.get_status_display(), "to": CredentialStatus(to).label},
            status=409,
        )
    from_state, now = locked.status, timezone.now()
    locked.status = to
    fields = ["status", "updated_at"]
    if to == CredentialStatus.SUSPENDED:
        locked.suspended_at, locked.suspended_reason = now, reason
        fields += ["suspended_at", "suspended_reason"]
    elif to == CredentialStatus.REVOKED:
        locked.revoked_at, locked.revoked_reason = now, reason
        fields += ["revoked_at", "revoked_reason"]
    locked.save(update_fields=fields)
    audit_record(actor=actor, action=action, target=locked, from_state=from_state, to_state=to, reason=reason)
    for name in fields:  # let the caller's object reflect the change
        setattr(credential, name, getattr(locked, name))
    return credential


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        message = _("A reason is required.")
        raise ServiceError(CommonErrorCode.INVALID, message, fields={"reason": [message]})
    return reason


@transaction.atomic(durable=True)
def credential_suspend(*, credential: Credential, actor, reason: str) -> Credential:
    """Suspend an active e-code: its codes stop verifying until it is reinstated."""
    reason = _required_reason(reason)
    _transition(
        credential=credential,
        actor=actor,
        allowed=(CredentialStatus.ACTIVE,),
        to=CredentialStatus.SUSPENDED,
        action="ecode.suspend",
        reason=reason,
    )
    notification_create(person=credential.person, event="ecode_suspended", context={"reason": reason})
    return credential


@transaction.atomic(durable=True)
def credential_reinstate(*, credential: Credential, actor, reason: str = "") -> Credential:
    """Make a suspended e-code active again (a revoked one stays revoked)."""
    return _transition(
        credential=credential,
        actor=actor,
        allowed=(CredentialStatus.SUSPENDED,),
        to=CredentialStatus.ACTIVE,
        action="ecode.reinstate",
        reason=(reason or "").strip(),
    )


@transaction.atomic(durable=True)
def credential_revoke(*, credential: Credential, actor, reason: str) -> Credential:
    """Revoke an e-code for good: its codes never verify again."""
    return _transition(
        credential=credential,
        actor=actor,
        allowed=(CredentialStatus.ACTIVE, CredentialStatus.SUSPENDED),
        to=CredentialStatus.REVOKED,
        action="ecode.revoke",
        reason=_required_reason(reason),
    )
