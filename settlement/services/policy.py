"""Saving an area's settlement policy as an agency entered it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from core.audit import audit_record

from ..models import Policy

if TYPE_CHECKING:
    from ..models import Policy


@transaction.atomic
def policy_save(*, policy: Policy, actor, changed: list[str]) -> Policy:
    """Save an area's settlement policy as an agency entered it (in admin), with an audit row."""
    created = policy.pk is None
    policy.save()
    audit_record(
        actor=actor,
        action="policy.create" if created else "policy.change",
        target=policy,
        data={"fields": sorted(changed)},
    )
    return policy
