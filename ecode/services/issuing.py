"""Whether a credential may have a code now, and the signed code it gets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ServiceError
from ecode.keys import subject_keys
from ecode.token import (
    TTL_UNIT_SECONDS,
    encrypt_subject,
    issue_token,
    pack_claims,
    to_digits,
)
from filing.coverage import filing_in_force
from reference.choices import SCHEME_CODES

from ..errors import EcodeErrorCode, EcodeServiceErrorCode, verification_message
from ..models import Credential, CredentialStatus
from ..selectors import credential_for_person
from .signing import _signing_key


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed code: show ``token`` until ``refresh_after``, then fetch another."""

    token: str
    issued_at: datetime
    expires_at: datetime
    refresh_after: datetime


def _credential_usable(credential: Credential) -> None:
    if credential.status == CredentialStatus.SUSPENDED:
        raise ServiceError(
            EcodeServiceErrorCode.CREDENTIAL_SUSPENDED,
            verification_message(EcodeErrorCode.CREDENTIAL_SUSPENDED),
            status=409,
        )
    if credential.status == CredentialStatus.REVOKED:
        raise ServiceError(
            EcodeServiceErrorCode.CREDENTIAL_REVOKED,
            verification_message(EcodeErrorCode.CREDENTIAL_REVOKED),
            status=409,
        )
    if not credential.person.is_active:
        raise ServiceError(
            EcodeServiceErrorCode.PERSON_INACTIVE,
            _("Your insurance is not active, so no e-code can be shown."),
            status=409,
        )


def _filing_flag(person, on_date) -> bool:
    return filing_in_force(person=person, on_date=on_date) is not None


def token_issue(*, credential: Credential, now: datetime | None = None) -> IssuedToken:
    """Sign a fresh code for an active credential: 120 s of life, to be refreshed after 30 s."""
    _credential_usable(credential)
    person = credential.person
    now = now or timezone.now()
    ttl_units = max(1, min(255, settings.ECODE_TOKEN_TTL_SECONDS // TTL_UNIT_SECONDS))
    kid, private_key = _signing_key()
    iat = int(now.timestamp())
    claims = pack_claims(
        person.insured_region_id, SCHEME_CODES[person.scheme], _filing_flag(person, timezone.localdate(now))
    )
    subject = encrypt_subject(subject_keys()[0], credential.member_id)
    raw = issue_token(
        private_key=private_key, kid=kid, iat=iat, ttl_units=ttl_units, subject=subject, claims=claims
    )
    issued_at = datetime.fromtimestamp(iat, UTC)
    return IssuedToken(
        token=to_digits(raw),
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=ttl_units * TTL_UNIT_SECONDS),
        refresh_after=issued_at + timedelta(seconds=settings.ECODE_REFRESH_AFTER_SECONDS),
    )


def token_issue_for_person(*, person, now: datetime | None = None) -> IssuedToken:
    """Sign a fresh code for a person; ``not_activated`` if they have no e-code yet."""
    credential = credential_for_person(person=person)
    if credential is None:
        raise ServiceError(EcodeServiceErrorCode.NOT_ACTIVATED, _("Activate your e-code first."), status=409)
    return token_issue(credential=credential, now=now)
