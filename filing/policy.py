"""The national filing rules (医保发〔2022〕22号) and the default policy made of them, for areas without their own.

Migration 0003 writes the same rules (a migration cannot import them); tests/filing/test_policy.py keeps the two
equal.
"""

from __future__ import annotations

from django.db import transaction

from .choices import DocumentKind, FilingGroup
from .models import FilingPolicy, GroupRule

NATIONAL_DEFAULT_RULES = {
    FilingGroup.RETIREE: {
        "materials": [DocumentKind.HOUSEHOLD_REGISTER],
        "commitment_allowed": True,
        "retired_required": True,
    },
    FilingGroup.RESIDENT: {"materials": [DocumentKind.RESIDENCE_PROOF], "commitment_allowed": True},
    FilingGroup.WORKER: {"materials": [DocumentKind.WORK_PROOF], "commitment_allowed": True},
    FilingGroup.REFERRAL: {
        "materials": [DocumentKind.REFERRAL_LETTER],
        "validity_months": 6,
        "max_validity_months": 12,
    },
    FilingGroup.EMERGENCY: {"validity_months": 6, "auto_approve": True},
    FilingGroup.TEMPORARY: {"validity_months": 6, "max_validity_months": 12, "commitment_allowed": True},
}

DEFAULT_POLICY_FIELDS = {"review_deadline_days": 10, "instant_approval": True, "retroactive_days": 90}


def national_rules(*, wait: int | None = None, **overrides: dict) -> dict[str, dict]:
    """The national rule of each group as GroupRule fields; `wait` sets the months before a long-term filing
    may be changed, `overrides` ({group: {field: value}}) an area's own choices."""
    rules = {}
    for group, values in NATIONAL_DEFAULT_RULES.items():
        rule = {**values, "materials": [str(m) for m in values.get("materials", [])]}
        if wait is not None and FilingGroup(group).long_term:
            rule["min_months_before_change"] = wait
        rule.update(overrides.get(group, {}))
        rules[group] = rule
    return rules


@transaction.atomic
def filing_policy_default_ensure() -> FilingPolicy:
    """The default policy (national rules) for areas without their own; created if missing."""
    policy, _created = FilingPolicy.objects.get_or_create(region=None, defaults=DEFAULT_POLICY_FIELDS)
    for group, values in national_rules().items():
        GroupRule.objects.get_or_create(policy=policy, group=group, defaults=values)
    return policy
