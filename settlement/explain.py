"""Plain words for the benefit rules a settlement applied: which rule, which fund, how much.

Reads only what the settlement recorded (``details["rules"]`` from ``calculator.applied_rules`` and the terms
snapshot), so a receipt printed years later explains the terms that were applied, not today's policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.choices import IdentityKind


@dataclass(frozen=True)
class Explanation:
    rule: str  # a stable key, e.g. "preferential_critical"
    fund: str  # the fund's name in the reader's language
    amount: Decimal
    text: str


def _points(ratio: str | Decimal) -> str:
    value = (Decimal(ratio) * 100).normalize()
    return format(value, "f")


def _identity_label(kind: str) -> str:
    try:
        return str(IdentityKind(kind).label)
    except ValueError:
        return kind


def settlement_explanations(settlement) -> list[Explanation]:
    """The rules beyond the plain deductible and ratio that decided this settlement's funds, in plain words."""
    details = settlement.details or {}
    rules = details.get("rules") or {}
    terms = details.get("terms") or {}
    out: list[Explanation] = []
    pref = rules.get("preferential_critical")
    if pref:
        snapshot = terms.get("preferential") or {}
        identities = "、".join(_identity_label(k) for k in pref["identities"])
        parts = [
            _("threshold ¥%(threshold)s instead of ¥%(normal)s")
            % {"threshold": pref["threshold"], "normal": terms.get("critical_threshold", "")}
        ]
        bonus = snapshot.get("ratio_bonus")
        if bonus and Decimal(bonus):
            parts.append(_("every segment %(points)s points higher") % {"points": _points(bonus)})
        parts.append(
            _("no annual cap") if pref["cap"] is None else _("annual cap ¥%(cap)s") % {"cap": pref["cap"]}
        )
        out.append(
            Explanation(
                rule="preferential_critical",
                fund=_("Critical illness insurance"),
                amount=settlement.critical_fund,
                text=_(
                    "Preferential terms for people in need (%(identities)s, 国办发〔2021〕42号): %(terms)s. "
                    "Critical illness insurance paid ¥%(amount)s."
                )
                % {
                    "identities": identities,
                    "terms": _("; ").join(parts),
                    "amount": settlement.critical_fund,
                },
            )
        )
    return out
