"""Plain words for the benefit rules a settlement applied: which rule, which fund, how much.

Reads only what the settlement recorded (``details["rules"]`` from ``calculator.applied_rules`` and the terms
snapshot), so a receipt printed years later explains the terms that were applied, not today's policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.choices import IdentityKind
from filing.choices import FilingGroup


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


def _group_label(group: str) -> str:
    try:
        return str(FilingGroup(group).label)
    except ValueError:
        return group


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
    for limited in rules.get("payment_standards", ()):
        amount = Decimal(limited["amount"])
        words = {
            "over_price": _(
                "Line %(line)s (%(code)s) costs more than the payment standard: you pay the ¥%(amount)s above it."
            ),
            "restricted_condition": _(
                "Line %(line)s (%(code)s) is payable only for a restricted use that was not confirmed: "
                "you pay its ¥%(amount)s."
            ),
            "restricted_level": _(
                "Line %(line)s (%(code)s) is payable only at higher-level institutions: you pay its ¥%(amount)s."
            ),
        }
        text = words.get(limited["reason"])
        if text:
            out.append(
                Explanation(
                    rule=limited["reason"],
                    fund=_("The person"),
                    amount=amount,
                    text=text
                    % {"line": limited["line"], "code": limited["code"], "amount": limited["amount"]},
                )
            )
    if settlement.account_pay:
        out.append(
            Explanation(
                rule="personal_account",
                fund=_("Personal account"),
                amount=settlement.account_pay,
                text=_(
                    "With your agreement ¥%(amount)s of your share was paid from your personal account "
                    "(balance after: ¥%(balance)s); you paid ¥%(cash)s in cash."
                )
                % {
                    "amount": settlement.account_pay,
                    "balance": settlement.account_balance_after,
                    "cash": settlement.cash_pay,
                },
            )
        )
    variant = rules.get("deductible_variant")
    if variant:
        words = []
        if "retiree" in variant["variants"]:
            words.append(_("the retirees' deductible"))
        if "repeat_admission" in variant["variants"]:
            words.append(
                _("reduced to %(points)s %% for a second or later admission this year")
                % {"points": _points(terms.get("repeat_admission_factor", "1"))}
            )
        out.append(
            Explanation(
                rule="deductible_variant",
                fund=_("The person"),
                amount=settlement.deductible,
                text=_("Deductible ¥%(amount)s: %(how)s.")
                % {"amount": settlement.deductible, "how": _("; ").join(words)},
            )
        )
    limit = rules.get("visit_limit")
    if limit:
        if limit["limit"] == "disease_limit":
            text = _(
                "Outpatient chronic/special disease %(disease)s: the basic fund's annual limit for it, "
                "¥%(limit)s, is reached; the basic fund paid ¥%(amount)s."
            ) % {
                "disease": settlement.get_disease_display(),
                "limit": (terms.get("disease_limits") or {}).get(settlement.disease, ""),
                "amount": settlement.basic_fund,
            }
        else:
            text = _(
                "The basic fund's annual limit for general outpatient visits, ¥%(limit)s, is reached; "
                "it paid ¥%(amount)s."
            ) % {"limit": terms.get("general_outpatient_cap", ""), "amount": settlement.basic_fund}
        out.append(
            Explanation(
                rule=limit["limit"],
                fund=_("Basic medical insurance fund"),
                amount=settlement.basic_fund,
                text=text,
            )
        )
    large = rules.get("large_amount")
    if large:
        out.append(
            Explanation(
                rule="large_amount",
                fund=_("Large-amount medical cover (employees)"),
                amount=settlement.large_amount_fund,
                text=(
                    _(
                        "The basic fund reached its annual cap of ¥%(cap)s; the employees' large-amount cover "
                        "(大额医疗费用补助) paid %(ratio)s %% of the eligible costs above it: ¥%(amount)s."
                    )
                    % {
                        "cap": terms.get("annual_cap", ""),
                        "ratio": _points(terms.get("large_amount_ratio", "0")),
                        "amount": settlement.large_amount_fund,
                    }
                )
                + (
                    " "
                    + _("Its own annual cap of ¥%(cap)s is reached.") % {"cap": terms.get("large_amount_cap")}
                    if large.get("capped")
                    else ""
                ),
            )
        )
    assistance = rules.get("assistance")
    if assistance:
        kind = _("inpatient") if settlement.visit_type == "inpatient" else _("outpatient")
        text = _(
            "Medical assistance (医疗救助) for %(identity)s, %(kind)s: after the assistance deductible of "
            "¥%(deductible)s, it paid ¥%(amount)s of what basic insurance and critical illness left."
        ) % {
            "identity": _identity_label(assistance["category"]),
            "kind": kind,
            "deductible": assistance["deductible"],
            "amount": settlement.assistance_fund,
        }
        if assistance.get("capped"):
            text += " " + _("The annual assistance cap is reached.")
        out.append(
            Explanation(
                rule="assistance", fund=_("Medical assistance"), amount=settlement.assistance_fund, text=text
            )
        )
    reduction = rules.get("temporary_reduction")
    if reduction:
        group = _group_label(settlement.filing_group)
        points = _points(reduction["rate"])
        if reduction["terms"] == "first_share":
            out.append(
                Explanation(
                    rule="temporary_first_share",
                    fund=_("The person"),
                    amount=settlement.group_share,
                    text=_(
                        "Filed as %(group)s: you first pay %(points)s %% of the eligible amount, ¥%(amount)s, "
                        "before the basic fund pays (医保发〔2022〕22号)."
                    )
                    % {"group": group, "points": points, "amount": settlement.group_share},
                )
            )
        else:
            out.append(
                Explanation(
                    rule="temporary_cut",
                    fund=_("Basic medical insurance fund"),
                    amount=settlement.basic_fund,
                    text=_(
                        "Filed as %(group)s: the basic fund ratio is %(points)s points lower, %(ratio)s %%; "
                        "the basic fund paid ¥%(amount)s (医保发〔2022〕22号)."
                    )
                    % {
                        "group": group,
                        "points": points,
                        "ratio": _points(settlement.ratio),
                        "amount": settlement.basic_fund,
                    },
                )
            )
    return out
