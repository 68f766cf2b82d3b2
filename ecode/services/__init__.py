"""E-code writes, one module per concern; callers import them from here (`from ecode.services import ...`).

- `credentials`: activating, suspending, reinstating and revoking a person's credential;
- `signing`: the signing keys (rotation, revocation, the verify-only window);
- `issuing`: signing a fresh code for a credential;
- `verify`: checking a code at a counter and using it once (the one-statement check).
"""

from .credentials import credential_activate, credential_reinstate, credential_revoke, credential_suspend
from .issuing import IssuedToken, token_issue, token_issue_for_person
from .signing import signing_key_ensure, signing_key_revoke, signing_key_rotate, verify_only_window
from .verify import USED_MARKER_PREFIX, CodeUse, VerificationResult, ecode_consume, ecode_verify

__all__ = [
    "USED_MARKER_PREFIX",
    "CodeUse",
    "IssuedToken",
    "VerificationResult",
    "credential_activate",
    "credential_reinstate",
    "credential_revoke",
    "credential_suspend",
    "ecode_consume",
    "ecode_verify",
    "signing_key_ensure",
    "signing_key_revoke",
    "signing_key_rotate",
    "token_issue",
    "token_issue_for_person",
    "verify_only_window",
]
