"""E-code error codes: the spec's verification codes (``ecode.verifier``) and the service's own."""

from __future__ import annotations

from enum import Enum

from django.utils.translation import get_language

from ecode.verifier import OFFLINE_ERROR_CODES, EcodeErrorCode
from ecode.verifier import message as _verification_message

__all__ = [
    "OFFLINE_ERROR_CODES",
    "EcodeErrorCode",
    "EcodeServiceErrorCode",
    "verification_message",
    "verification_status",
]


class EcodeServiceErrorCode(str, Enum):
    """Refusals of the e-code services that are not about a scanned code."""

    NOT_ACTIVATED = "not_activated"
    ALREADY_ACTIVATED = "already_activated"
    PERSON_INACTIVE = "person_inactive"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    CREDENTIAL_REVOKED = "credential_revoked"
    INVALID_TRANSITION = "invalid_transition"
    NOT_A_COUNTER = "not_a_counter"
    INSTITUTION_INACTIVE = "institution_inactive"
    WRONG_INSTITUTION = "wrong_institution"
    DUPLICATE_REQUEST_NO = "duplicate_request_no"
    UNKNOWN_USE = "unknown_use"
    USE_EXPIRED = "use_expired"
    UNKNOWN_SIGNING_KEY = "unknown_signing_key"
    SIGNING_KEY_REVOKED = "signing_key_revoked"


def verification_message(code: EcodeErrorCode | str) -> str:
    """The message for a verification code in the active language (Chinese unless English is active)."""
    return _verification_message(code, get_language() or "zh")


# A code that is not 227 digits is bad input; a well-formed code that fails a check is unprocessable; a use
# that cannot settle here conflicts with the person's filings (as the settlement's own refusal does).
_STATUS = {
    EcodeErrorCode.MALFORMED: 400,
    EcodeErrorCode.WRONG_INSTITUTION: 403,
    EcodeErrorCode.NOT_COVERED: 409,
}


def verification_status(code: EcodeErrorCode | str) -> int:
    """The HTTP status the API answers with for a refused code."""
    return _STATUS.get(EcodeErrorCode(code), 422)
