"""The settlement arithmetic: pure functions over plain dataclasses, no Django and no database.

The rule is 就医地目录、参保地政策: the treatment place's catalogue says what each billed item is, the insured
place's policy says how much of the eligible amount the funds pay. The caller (``settlement.services``) looks
up the catalogue entries, the policy terms, the person's facts and the year-to-date accumulators and passes
them here as plain values; ``settle`` returns the itemised split and the accumulators after it.

The steps, in order (every money value is a ``Decimal`` in yuan):

1. **Lines.** ``amount = quantity × unit_price``; ``total = Σ amount``.

   * code not in the treatment province's catalogue, or class 丙: the whole amount is self-paid (自费);
   * class 甲: the whole amount is eligible (政策范围内);
   * class 乙: the personal first share (先行自付) is ``amount × first-share rate`` and the rest is eligible.

2. **Deductible (起付线)** for the visit type and institution level, from the insured place's policy. Outpatient
   deductibles are charged once a year: only what the year-to-date accumulator has not yet absorbed remains.
   Inpatient deductibles are charged per admission when the policy says ``deductible_per_admission`` (the
   default) and once a year otherwise. ``deductible = min(eligible, remaining deductible)``.
3. **Basic fund (统筹基金).** ``ratio`` = the level's ratio (the retirees' ratio for retirees) minus the cut of
   the filing group (other temporary, referral, emergency; 0 when the policy has none), never below 0.
   ``basic = (eligible − deductible) × ratio``, at most what remains of the annual cap
   (``annual_cap − basic fund paid this year``).
4. **Personal burden in scope** ``burden = eligible − basic`` (the deductible plus the co-pay); it accumulates
   over the year and is the base of critical-illness insurance.
5. **Critical-illness insurance (大病保险)** pays, by tiers, on the year's accumulated burden above the annual
   threshold: ``over = max(0, burden_ytd − threshold)``; a tier ``(lower, ratio)`` pays ``ratio`` on the part
   of ``over`` between its ``lower`` and the next tier's ``lower``. ``payable_ytd = min(cap, Σ tiers)``; this
   settlement's share is ``payable_ytd − critical paid this year`` (never below 0 nor above this burden).
6. **Medical assistance (医疗救助)**, for people of an assistance category the policy names:
   ``(burden − critical) × category ratio``, at most what remains of the category's annual cap.
7. ``person_pays = total − basic − critical − assistance`` and ``fund_ratio = funds / total``.

**Rounding, the one rule:** each computed money value is rounded to the fen (0.01 yuan) with ``ROUND_HALF_UP``
exactly once, right where it is computed: a line amount, a first share, the basic fund before it meets the
cap, the critical-illness payable-to-date before it meets the cap, the assistance before it meets its cap.
Deductibles, caps and accumulators are already whole fen, so clamping never needs rounding. ``person_pays``
is never rounded: it is the difference, so the parts always add up to the total exactly. ``fund_ratio`` is
rounded to 4 decimals (0.9140 = 91.40 %), for display only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from .errors import SettlementErrorCode

FEN = Decimal("0.01")
RATIO_PLACES = Decimal("0.0001")
ZERO = Decimal("0.00")
ONE = Decimal("1")

VISIT_TYPES = ("inpatient", "general_outpatient", "chronic_outpatient")
INPATIENT = "inpatient"

CLASS_A = "A"  # 甲
CLASS_B = "B"  # 乙
CLASS_C = "C"  # 丙


class CalculationError(ValueError):
    """Input the arithmetic cannot take; ``code`` is a stable error code and ``field`` the offending input."""

    def __init__(self, code: SettlementErrorCode | str, field: str = "") -> None:
        code = code.value if isinstance(code, SettlementErrorCode) else code
        super().__init__(code)
        self.code = code
        self.field = field


def to_fen(value: Decimal) -> Decimal:
    """The one rounding rule: to 0.01 yuan, halves away from zero."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rate:
    """Deductible and fund ratio of one visit type at one institution level."""

    deductible: Decimal
    fund_ratio: Decimal
    retiree_fund_ratio: Decimal | None = None


@dataclass(frozen=True)
class Tier:
    """Critical-illness tier: pays ``ratio`` on the part above the threshold from ``lower`` to the next tier."""

    lower: Decimal
    ratio: Decimal


@dataclass(frozen=True)
class AssistanceTerms:
    """Medical assistance for one category of people: a ratio of the remaining burden, up to a yearly cap."""

    ratio: Decimal
    annual_cap: Decimal


@dataclass(frozen=True)
class PolicyTerms:
    """The insured place's policy for one pooling area, scheme and year, as plain values."""

    rates: Mapping[tuple[str, int], Rate]
    annual_cap: Decimal
    deductible_per_admission: bool = True
    group_cuts: Mapping[str, Decimal] = field(default_factory=dict)
    critical_threshold: Decimal = ZERO
    critical_tiers: Sequence[Tier] = ()
    critical_cap: Decimal = ZERO
    assistance: Mapping[str, AssistanceTerms] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogueEntry:
    """One item of the treatment province's catalogue."""

    code: str
    name: str
    category: str
    coverage_class: str
    first_share_rate: Decimal = ZERO


@dataclass(frozen=True)
class BillItem:
    """One billed line as the counter sends it."""

    code: str
    quantity: Decimal
    unit_price: Decimal
    name: str = ""


@dataclass(frozen=True)
class PersonFacts:
    """What the arithmetic needs to know about the person."""

    retired: bool = False
    filing_group: str = ""
    assistance_category: str = ""


@dataclass(frozen=True)
class YearToDate:
    """The person's accumulators for the year and scheme; ``deductible_paid`` is the visit type's bucket."""

    deductible_paid: Decimal = ZERO
    basic_fund_paid: Decimal = ZERO
    critical_fund_paid: Decimal = ZERO
    assistance_paid: Decimal = ZERO
    burden: Decimal = ZERO


@dataclass(frozen=True)
class Visit:
    visit_type: str
    institution_level: int


@dataclass(frozen=True)
class Line:
    """One billed line, itemised: ``amount = self_paid + first_share + eligible``."""

    code: str
    name: str
    category: str
    coverage_class: str  # "" when the code is not in the catalogue
    in_catalogue: bool
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    self_paid: Decimal
    first_share: Decimal
    eligible: Decimal


@dataclass(frozen=True)
class Split:
    """The itemised settlement: ``total = self_paid + first_share + eligible = funds + person_pays``."""

    lines: tuple[Line, ...]
    total: Decimal
    self_paid: Decimal
    first_share: Decimal
    eligible: Decimal
    deductible: Decimal
    ratio: Decimal
    basic_fund: Decimal
    critical_fund: Decimal
    assistance: Decimal
    person_pays: Decimal
    basic_capped: bool
    critical_capped: bool
    assistance_capped: bool
    before: YearToDate
    after: YearToDate

    @property
    def fund_total(self) -> Decimal:
        return self.basic_fund + self.critical_fund + self.assistance

    @property
    def fund_ratio(self) -> Decimal:
        if not self.total:
            return Decimal("0.0000")
        return (self.fund_total / self.total).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)

    @property
    def burden(self) -> Decimal:
        """The personal burden within the eligible scope before critical illness and assistance."""
        return self.eligible - self.basic_fund


def itemise(items: Sequence[BillItem], catalogue: Mapping[str, CatalogueEntry]) -> tuple[Line, ...]:
    """Split each billed line into self-paid, first share and eligible by the treatment place's catalogue."""
    lines = []
    for index, item in enumerate(items):
        if not isinstance(item.quantity, Decimal) or not item.quantity.is_finite() or item.quantity <= 0:
            raise CalculationError(SettlementErrorCode.INVALID_QUANTITY, f"items.{index}.quantity")
        if not isinstance(item.unit_price, Decimal) or not item.unit_price.is_finite() or item.unit_price < 0:
            raise CalculationError(SettlementErrorCode.INVALID_PRICE, f"items.{index}.unit_price")
        amount = to_fen(item.quantity * item.unit_price)
        entry = catalogue.get(item.code)
        self_paid = first_share = eligible = ZERO
        if entry is None or entry.coverage_class not in (CLASS_A, CLASS_B):
            self_paid = amount
        elif entry.coverage_class == CLASS_B:
            first_share = to_fen(amount * entry.first_share_rate)
            eligible = amount - first_share
        else:
            eligible = amount
        lines.append(
            Line(
                code=item.code,
                name=entry.name if entry else item.name,
                category=entry.category if entry else "",
                coverage_class=entry.coverage_class if entry else "",
                in_catalogue=entry is not None,
                quantity=item.quantity,
                unit_price=item.unit_price,
                amount=amount,
                self_paid=self_paid,
                first_share=first_share,
                eligible=eligible,
            )
        )
    return tuple(lines)


def tiered(amount: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """What the tiers pay on ``amount`` (the part above the threshold), unrounded."""
    ordered = sorted(tiers, key=lambda t: t.lower)
    paid = Decimal(0)
    for i, tier in enumerate(ordered):
        upper = ordered[i + 1].lower if i + 1 < len(ordered) else None
        top = amount if upper is None else min(amount, upper)
        if top > tier.lower:
            paid += (top - tier.lower) * tier.ratio
    return paid


def basic_ratio(policy: PolicyTerms, rate: Rate, person: PersonFacts) -> Decimal:
    """The fund ratio for this person: the retirees' ratio if retired, less the filing group's cut."""
    ratio = (
        rate.retiree_fund_ratio if person.retired and rate.retiree_fund_ratio is not None else rate.fund_ratio
    )
    ratio -= policy.group_cuts.get(person.filing_group, ZERO)
    return min(max(ratio, Decimal(0)), ONE)


def settle(
    *,
    policy: PolicyTerms,
    catalogue: Mapping[str, CatalogueEntry],
    items: Sequence[BillItem],
    person: PersonFacts,
    ytd: YearToDate,
    visit: Visit,
) -> Split:
    """Compute the settlement of one bill (see the module docstring for every rule)."""
    if visit.visit_type not in VISIT_TYPES:
        raise CalculationError(SettlementErrorCode.INVALID_VISIT_TYPE, "visit_type")
    if not items:
        raise CalculationError(SettlementErrorCode.NO_ITEMS, "items")
    rate = policy.rates.get((visit.visit_type, visit.institution_level))
    if rate is None:
        raise CalculationError(SettlementErrorCode.POLICY_INCOMPLETE, "visit_type")

    lines = itemise(items, catalogue)
    total = sum((line.amount for line in lines), ZERO)
    self_paid = sum((line.self_paid for line in lines), ZERO)
    first_share = sum((line.first_share for line in lines), ZERO)
    eligible = sum((line.eligible for line in lines), ZERO)

    # 2. Deductible
    per_admission = visit.visit_type == INPATIENT and policy.deductible_per_admission
    remaining_deductible = (
        rate.deductible if per_admission else max(ZERO, rate.deductible - ytd.deductible_paid)
    )
    deductible = min(eligible, remaining_deductible)

    # 3. Basic fund
    ratio = basic_ratio(policy, rate, person)
    basic_uncapped = to_fen((eligible - deductible) * ratio)
    cap_left = max(ZERO, policy.annual_cap - ytd.basic_fund_paid)
    basic = min(basic_uncapped, cap_left)

    # 4. Burden in scope, accumulated over the year
    burden = eligible - basic
    burden_ytd = ytd.burden + burden

    # 5. Critical illness on the year's burden above the threshold
    over = max(ZERO, burden_ytd - policy.critical_threshold)
    payable_uncapped = to_fen(tiered(over, policy.critical_tiers))
    payable_ytd = min(payable_uncapped, policy.critical_cap)
    critical = min(burden, max(ZERO, payable_ytd - ytd.critical_fund_paid))

    # 6. Medical assistance on what is left of the burden
    assistance = ZERO
    assistance_capped = False
    terms = policy.assistance.get(person.assistance_category) if person.assistance_category else None
    if terms is not None:
        assistance_uncapped = to_fen((burden - critical) * terms.ratio)
        assistance = min(assistance_uncapped, max(ZERO, terms.annual_cap - ytd.assistance_paid))
        assistance_capped = assistance < assistance_uncapped

    person_pays = total - basic - critical - assistance
    after = replace(
        ytd,
        deductible_paid=ytd.deductible_paid + deductible,
        basic_fund_paid=ytd.basic_fund_paid + basic,
        critical_fund_paid=ytd.critical_fund_paid + critical,
        assistance_paid=ytd.assistance_paid + assistance,
        burden=burden_ytd,
    )
    return Split(
        lines=lines,
        total=total,
        self_paid=self_paid,
        first_share=first_share,
        eligible=eligible,
        deductible=deductible,
        ratio=ratio,
        basic_fund=basic,
        critical_fund=critical,
        assistance=assistance,
        person_pays=person_pays,
        basic_capped=basic < basic_uncapped,
        critical_capped=payable_ytd < payable_uncapped,
        assistance_capped=assistance_capped,
        before=ytd,
        after=after,
    )
