"""The interface's own refusal codes (the services' codes pass through unchanged)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class HisErrorCode(str, Enum):
    NOT_JSON = "not_json"
    BAD_ENVELOPE = "bad_envelope"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MISSING_SIGNATURE = "missing_signature"
    UNKNOWN_PAASID = "unknown_paasid"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED_NONCE = "replayed_nonce"
    AUTHENTICATION_FAILED = "authentication_failed"
    OTHER_INSTITUTION = "other_institution"
    UNKNOWN_INFNO = "unknown_infno"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    IN_PROGRESS = "in_progress"
    SERVER_ERROR = "server_error"
    PERSON_NOT_FOUND = "person_not_found"
    PSN_NO_MISMATCH = "psn_no_mismatch"
    CERT_TYPE_NOT_SUPPORTED = "cert_type_not_supported"
    NO_FILING_HERE = "no_filing_here"
    UNKNOWN_VISIT = "unknown_visit"
    VISIT_CANCELLED = "visit_cancelled"
    VISIT_SETTLED = "visit_settled"
    DUPLICATE_FEE = "duplicate_feedetl_sn"
    FEE_AMOUNT_MISMATCH = "fee_amount_mismatch"
    NO_FEES = "no_fees"
    MEDFEE_MISMATCH = "medfee_sumamt_mismatch"
    SPLIT_MISMATCH = "split_mismatch"
    UNKNOWN_SETTLEMENT = "unknown_settlement"
    WRONG_MED_TYPE = "wrong_med_type"
    NOT_DISCHARGED = "not_discharged"
    ALREADY_DISCHARGED = "already_discharged"
    NOT_INPATIENT = "not_inpatient"
    MID_SETTLEMENT_NOT_SUPPORTED = "mid_settlement_not_supported"
    UNKNOWN_FILING = "unknown_filing"


class HisRefusal(Exception):
    """A refused request: answered with infcode -1 and ``[code] message`` (HTTP ``status``)."""

    def __init__(self, code: HisErrorCode | str, message: Any, *, status: int = 200) -> None:
        self.code = code.value if isinstance(code, Enum) else str(code)
        self.message = message
        self.status = status
        super().__init__(self.code)

    def __str__(self) -> str:  # never personal data in logs
        return self.code
