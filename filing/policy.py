"""The national filing rules (医保发〔2022〕22号) and the default policy made of them, for areas without their own.

Migration 0003 writes the same rules (a migration cannot import them); tests/filing/test_policy.py keeps the two
equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction

from .choices import DocumentKind, FilingGroup
from .models import FilingPolicy, GroupRule

NATIONAL_DEFAULT_RULES: dict[str, dict[str, Any]] = {
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

DEFAULT_POLICY_FIELDS: dict[str, Any] = {
    "review_deadline_days": 10,
    "instant_approval": True,
    "retroactive_days": 90,
}


def national_rules(*, wait: int | None = None, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The national rule of each group as GroupRule fields; `wait` sets the months before a long-term filing
    may be changed, `overrides` ({group: {field: value}}) an area's own choices."""
    rules: dict[str, dict[str, Any]] = {}
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


# How many points the insured place's settlement policy cuts a group's fund ratio. Settlement owns that policy
# and depends on filing, so it gives filing this reader at start-up (settlement.apps) instead of filing
# importing settlement; without it the cut is 0.
_ratio_cut_source: Callable[..., int] | None = None


def ratio_cut_source_set(source: Callable[..., int] | None) -> None:
    """Name the reader of ratio cuts: ``source(region_code=, scheme=, group=, on_date=)`` gives points."""
    global _ratio_cut_source
    _ratio_cut_source = source


def ratio_cut_points_for(*, region_code: str, scheme: str, group: str, on_date: dt.date) -> int:
    """The points by which the insured place's policy cuts a filing group's fund ratio on `on_date`."""
    if _ratio_cut_source is None:
        return 0
    return _ratio_cut_source(region_code=region_code, scheme=scheme, group=group, on_date=on_date)
