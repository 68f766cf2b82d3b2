from enum import Enum


class SettlementErrorCode(str, Enum):
    INVALID_VISIT_TYPE = "invalid_visit_type"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    INVALID_DATES = "invalid_dates"
    NO_ITEMS = "no_items"
    MISSING_CREDENTIAL = "missing_credential"
    UNKNOWN_FILING = "unknown_filing"
    FILING_NOT_OF_PERSON = "filing_not_of_person"
    PERSON_NOT_ACTIVE = "person_not_active"
    NOT_COVERED = "not_covered"
    NO_POLICY = "no_policy"
    POLICY_INCOMPLETE = "policy_incomplete"
    USE_ALREADY_SETTLED = "use_already_settled"
    REQUEST_NO_CONFLICT = "request_no_conflict"
    ALREADY_REVERSED = "already_reversed"
    LATER_SETTLEMENT_EXISTS = "later_settlement_exists"
    REVERSAL_WRONG_INSTITUTION = "reversal_wrong_institution"
    REVERSAL_NOT_SAME_DAY = "reversal_not_same_day"
    SETTLEMENT_NOT_FOUND = "settlement_not_found"
    CATALOGUE_IMPORT_INVALID = "catalogue_import_invalid"
