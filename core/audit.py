"""Writing audit events (call inside the transaction of the change it records), and saying what they mean."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import pgettext_lazy

from .models import AuditEvent


def audit_record(
    *,
    actor: Any = None,
    action: str,
    target: models.Model,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict | None = None,
    actor_label: str = "",
) -> AuditEvent:
    user = actor if getattr(actor, "is_authenticated", False) else None
    if not actor_label:
        actor_label = user.get_username() if user else "system"
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label[:100],
        action=action,
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=str(target.pk),
        from_state=from_state or "",
        to_state=to_state or "",
        reason=reason or "",
        data=data or {},
    )


def audit_history(target: models.Model):
    return AuditEvent.objects.filter(
        target_type=ContentType.objects.get_for_model(target, for_concrete_model=False),
        target_id=str(target.pk),
    ).select_related("actor")


# --- Words: what an audit event means, for the people who read the history (admin) -------------------------

# Every action the project records, in words (the state change is shown next to it, in the target's own
# words). An app that records a new action adds it here; tests/foundation/test_audit_words.py checks that
# every action written in the code has its words.
ACTION_WORDS = {
    # People, accounts and terminals (accounts)
    "person.create": pgettext_lazy("audit", "Person registered"),
    "user.create": pgettext_lazy("audit", "Account created"),
    "api_key.create": pgettext_lazy("audit", "Terminal key issued"),
    "api_key.revoke": pgettext_lazy("audit", "Terminal key revoked"),
    "his_terminal.create": pgettext_lazy("audit", "HIS gateway credential issued"),
    "his_terminal.revoke": pgettext_lazy("audit", "HIS gateway credential revoked"),
    "his.person_read": pgettext_lazy("audit", "Person information read by a HIS (1101)"),
    "his.visit_register": pgettext_lazy("audit", "Visit registered by a HIS"),
    "his.visit_cancel": pgettext_lazy("audit", "Visit registration cancelled by a HIS"),
    "admin.person_search": pgettext_lazy("audit", "Searched for a person by ID number or phone"),
    "user.sign_out_everywhere": pgettext_lazy("audit", "Signed out everywhere"),
    # Filings (filing)
    "filing.create": pgettext_lazy("audit", "Draft created"),
    "filing.update": pgettext_lazy("audit", "Draft changed"),
    "filing.submit": pgettext_lazy("audit", "Submitted for review"),
    "filing.approve": pgettext_lazy("audit", "Approved"),
    "filing.reject": pgettext_lazy("audit", "Rejected"),
    "filing.cancel": pgettext_lazy("audit", "Cancelled by the person"),
    "filing.revoke": pgettext_lazy("audit", "Revoked by the agency"),
    "filing.expire": pgettext_lazy("audit", "Expired"),
    "filing.supersede": pgettext_lazy("audit", "Replaced by a change"),
    "filing.record_emergency": pgettext_lazy("audit", "Emergency treatment recorded"),
    "filing.document_add": pgettext_lazy("audit", "Material uploaded"),
    "filing.document_remove": pgettext_lazy("audit", "Material removed"),
    "filing.document_opened": pgettext_lazy("audit", "Material opened by a reviewer"),
    "filing_policy.change": pgettext_lazy("audit", "Filing policy changed"),
    # E-codes (ecode)
    "ecode.activate": pgettext_lazy("audit", "E-code activated"),
    "ecode.suspend": pgettext_lazy("audit", "E-code suspended"),
    "ecode.reinstate": pgettext_lazy("audit", "E-code reinstated"),
    "ecode.revoke": pgettext_lazy("audit", "E-code revoked"),
    "ecode.key.create": pgettext_lazy("audit", "Signing key created"),
    "ecode.key.retire": pgettext_lazy("audit", "Signing key retired"),
    "ecode.key.revoke": pgettext_lazy("audit", "Signing key revoked"),
    # Partitions of the append-only tables (core.partitions)
    "partition.retire": pgettext_lazy("audit", "Month archived to a file and removed from the database"),
    # Notifications
    "notifications.delivery_retry": pgettext_lazy("audit", "Delivery retried"),
    # Settlement, clearing and supervision (settlement)
    "settlement.settle": pgettext_lazy("audit", "Settled"),
    "settlement.reverse": pgettext_lazy("audit", "Settlement reversed"),
    "settlement.correct": pgettext_lazy("audit", "Settlement corrected after a refund"),
    "catalogue.import": pgettext_lazy("audit", "Catalogue imported"),
    "policy.create": pgettext_lazy("audit", "Benefit policy created"),
    "policy.change": pgettext_lazy("audit", "Benefit policy changed"),
    "prepayment.record": pgettext_lazy("audit", "Prepayment recorded"),
    "prepayment.change": pgettext_lazy("audit", "Prepayment changed"),
    "clearing.build": pgettext_lazy("audit", "Clearing statement built"),
    "clearing.confirm": pgettext_lazy("audit", "Clearing statement confirmed"),
    "supervision.review": pgettext_lazy("audit", "Flag reviewed"),
}


def audit_action_words(action: str) -> str:
    """The action in the reader's language; an action nobody has put into words yet is shown as recorded."""
    words = ACTION_WORDS.get(action)
    return str(words) if words is not None else action


def audit_state_words(event: AuditEvent, state: str) -> str:
    """A state as the target's model names it (the label of its `status` choice, or of another choice field that
    holds the value, e.g. a user's role)."""
    if not state:
        return ""
    model = event.target_type.model_class() if event.target_type_id else None
    fields = [f for f in (model._meta.concrete_fields if model else ()) if f.choices]
    fields.sort(key=lambda f: f.name != "status")
    for field in fields:
        for value, label in field.flatchoices:
            if value == state:
                return str(label)
    return state


def audit_change_words(event: AuditEvent) -> str:
    """The state change in words ("草稿 → 已提交"), or the new state alone, or nothing."""
    before, after = audit_state_words(event, event.from_state), audit_state_words(event, event.to_state)
    if before and after and before != after:
        return f"{before} → {after}"
    return after if not before else ""
