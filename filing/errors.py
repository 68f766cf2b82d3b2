from enum import Enum


class FilingErrorCode(str, Enum):
    """Why a filing operation was refused; clients act on these codes."""

    # Who and what
    PERSON_NOT_ACTIVE = "person_not_active"
    INVALID_GROUP = "invalid_group"
    GROUP_NOT_ACCEPTED = "group_not_accepted"
    NOT_RETIRED = "not_retired"
    INVALID_CHANNEL = "invalid_channel"
    INVALID_PROXY = "invalid_proxy"
    # Where
    UNKNOWN_REGION = "unknown_region"
    DESTINATION_IN_INSURED_PROVINCE = "destination_in_insured_province"
    DESTINATION_NOT_ALLOWED = "destination_not_allowed"
    # Institutions
    UNKNOWN_INSTITUTION = "unknown_institution"
    INSTITUTION_NOT_IN_DESTINATION = "institution_not_in_destination"
    INSTITUTION_NOT_NETWORKED = "institution_not_networked"
    INSTITUTION_SERVICE_MISSING = "institution_service_missing"
    TOO_MANY_INSTITUTIONS = "too_many_institutions"
    INSTITUTIONS_REQUIRED = "institutions_required"
    # When
    RETROACTIVE_NOT_ALLOWED = "retroactive_not_allowed"
    START_DATE_TOO_LATE = "start_date_too_late"
    INVALID_START_DATE = "invalid_start_date"
    END_DATE_NOT_ALLOWED = "end_date_not_allowed"
    VALIDITY_TOO_SHORT = "validity_too_short"
    VALIDITY_TOO_LONG = "validity_too_long"
    OVERLAPPING_FILING = "overlapping_filing"
    # Materials
    MATERIALS_MISSING = "materials_missing"
    COMMITMENT_NOT_ALLOWED = "commitment_not_allowed"
    DOCUMENT_TYPE_NOT_ALLOWED = "document_type_not_allowed"
    DOCUMENT_TOO_LARGE = "document_too_large"
    DOCUMENT_EMPTY = "document_empty"
    TOO_MANY_DOCUMENTS = "too_many_documents"
    # Lifecycle
    INVALID_TRANSITION = "invalid_transition"
    NOT_EDITABLE = "filing_not_editable"
    TOO_EARLY_TO_CANCEL = "too_early_to_cancel"
    TOO_EARLY_TO_CHANGE = "too_early_to_change"
    INVALID_SUPERSEDES = "invalid_supersedes"
    NOT_ENDED = "filing_not_ended"
    REASON_REQUIRED = "reason_required"
