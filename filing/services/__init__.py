"""Filing writes, one module per concern; callers import them from here (`from filing.services import ...`).

Every state change goes through `transitions._transition`, which checks who may make it and from which state
and writes the audit row; the person hears of it through `notification_create`, which queues delivery for after
the commit. Services raise `ServiceError` with a `FilingErrorCode`.

- `transitions`: who may act on a filing, and the one place its state changes;
- `checks`: whether what a filing asks for is allowed;
- `drafts`: creating and editing a draft;
- `decisions`: submitting, approving, rejecting, cancelling, revoking, expiring, emergencies;
- `documents`: a filing's supporting documents;
- `policies`: an agency's change to its filing policy.
"""

# The national rules live in filing.policy; the name stays importable here, where callers always found it.
from ..policy import NATIONAL_DEFAULT_RULES as NATIONAL_DEFAULT_RULES
from .checks import MAX_DAYS_AHEAD, ProxyApplicant, filing_missing
from .decisions import (
    filing_approve,
    filing_cancel,
    filing_expire,
    filing_record_emergency,
    filing_reject,
    filing_remind_expiring,
    filing_revoke,
    filing_submit,
)
from .documents import document_add, document_open_by_reviewer, document_remove
from .drafts import DRAFT_FIELDS, filing_create_draft, filing_update_draft
from .policies import filing_policy_record_change
from .transitions import (
    AREA_REVIEWER,
    COUNTER,
    DOCUMENTS_EDITABLE,
    OWNER,
    REFERRER,
    SYSTEM,
    TRANSITIONS,
    filing_transition_allowed,
)

__all__ = [
    "AREA_REVIEWER",
    "COUNTER",
    "DOCUMENTS_EDITABLE",
    "DRAFT_FIELDS",
    "MAX_DAYS_AHEAD",
    "NATIONAL_DEFAULT_RULES",
    "OWNER",
    "REFERRER",
    "SYSTEM",
    "TRANSITIONS",
    "ProxyApplicant",
    "document_add",
    "document_open_by_reviewer",
    "document_remove",
    "filing_approve",
    "filing_cancel",
    "filing_create_draft",
    "filing_expire",
    "filing_missing",
    "filing_policy_record_change",
    "filing_record_emergency",
    "filing_reject",
    "filing_remind_expiring",
    "filing_revoke",
    "filing_submit",
    "filing_transition_allowed",
    "filing_update_draft",
]
