"""Recording a change an agency made to its filing policy."""

from __future__ import annotations

from core.audit import audit_record

from ..models import FilingPolicy


def filing_policy_record_change(*, policy: FilingPolicy, actor, changed: list[str]) -> None:
    """Audit a change an agency made to its filing policy (in admin)."""
    audit_record(actor=actor, action="filing_policy.change", target=policy, data={"changed": changed})
