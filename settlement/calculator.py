"""The settlement arithmetic: pure functions over plain dataclasses, no Django and no database.

The rule is 就医地目录、参保地政策: the treatment place's catalogue says what each billed item is, the insured
place's policy says how much of the eligible amount the funds pay. The caller (``settlement.services``) looks
up the catalogue entries, the policy terms, the person's facts and the year-to-date accumulators and passes
them here as plain values; ``settle`` returns the itemised split and the accumulators after it.

The steps, in order (every money value is a ``Decimal`` in yuan):

1. **Lines.** ``amount = quantity × unit_price``; ``total = Σ amount``.

   * code not in the treatment province's catalogue, or class 丙: the whole amount is self-paid (自费);
   * an item with a restricted use (限定支付范围) is self-paid unless the counter confirms the condition is met
     (``lmt_used_flag``), and one restricted to institution levels is self-paid below the lowest level allowed;
   * an item with a payment standard (支付标准, the maximum payable unit price): the part above
     ``quantity × max_price`` (rounded to the fen) is self-paid as ``overlmt_selfpay`` (超限价自付) and the rest
     goes on as the line's payable amount;
   * class 甲: the whole (payable) amount is eligible (政策范围内);
   * class 乙: the personal first share (先行自付) is ``amount × first-share rate`` and the rest is eligible.

   **Temporary filers** (referral, emergency, other temporary; 医保发〔2022〕22号): the policy reduces their
   benefit by the group's rate, either as a cut of the fund ratio (step 3) or, when ``group_terms`` is
   ``first_share``, as a first personal share ``group_share = eligible × rate`` (rounded to the fen) that stays
   within the eligible scope, like the deductible: the person pays it and it counts toward their burden.

2. **Deductible (起付线)** for the visit type and institution level, from the insured place's policy. Outpatient
   deductibles are charged once a year: only what the year-to-date accumulator has not yet absorbed remains.
   Inpatient deductibles are charged per admission when the policy says ``deductible_per_admission`` (the
   default) and once a year otherwise. Variants (``deductible_for``): the level's retirees' deductible for
   retirees where the policy sets one; a second and later admission in the year pays the deductible times the
   policy's ``repeat_admission_factor`` (rounded to the fen; 1 = no reduction). ``deductible = min(eligible, remaining deductible)``.
3. **Basic fund (统筹基金).** ``ratio`` = the level's ratio (the retirees' ratio for retirees) minus the cut of
   the filing group (other temporary, referral, emergency; 0 when the policy has none), never below 0.
   ``basic = (eligible − group_share − deductible) × ratio``; limits by visit type: a general-outpatient visit
   also stays within what remains of the policy's general-outpatient annual limit (when it sets one), and a
   chronic/special-disease outpatient visit within what remains of that disease's annual limit (``basic_limit``).
   ``basic =`` its minimum with all of them, at most what remains of the annual cap
   (``annual_cap − basic fund paid this year``).
   **Employees' large-amount cover (大额医疗费用补助, ``hifob_pay``)**, when the policy sets a ratio and a cap
   (employee scheme): when the basic fund meets its annual cap, the eligible costs it no longer covers,
   ``excess = (eligible − group_share − deductible) − basic ÷ ratio`` (the quotient rounded to the fen), are
   paid at the large-amount ratio: ``large = excess × large ratio`` (rounded once), at most what remains of
   the large-amount annual cap.
4. **Personal burden in scope** ``burden = eligible − basic − large`` (the deductible plus the co-pay); it accumulates
   over the year and is the base of critical-illness insurance.
5. **Critical-illness insurance (大病保险)** pays, by tiers, on the year's accumulated burden above the annual
   threshold: ``over = max(0, burden_ytd − threshold)``; a tier ``(lower, ratio)`` pays ``ratio`` on the part
   of ``over`` between its ``lower`` and the next tier's ``lower``. ``payable_ytd = min(cap, Σ tiers)``; this
   settlement's share is ``payable_ytd − critical paid this year`` (never below 0 nor above this burden).

   **Preferential terms for people in need** (国办发〔2021〕42号): when the person holds, on the visit date, an
   identity the policy names (national default: 特困 extremely poor, 低保 low-income, 返贫致贫风险 at risk of
   returning to poverty), ``threshold = threshold × factor`` (national 50 %, rounded to the fen), every tier's
   ratio is raised by the bonus (national 5 points, at most 100 %) and the annual cap is lifted. The split
   records which identities triggered the terms and the threshold, tiers and cap it used (``critical_terms``).
6. **Medical assistance (医疗救助)**, its own policy per category of people (``assistance_terms``: the person's
   assistance category, else the first identity in force the policy names, in the order extremely poor,
   low-income, low-income marginal, at risk of returning to poverty), inpatient and outpatient separately,
   after basic insurance, large-amount cover and critical illness: ``left = burden − critical``; the
   assistance deductible of the visit kind is charged once a year (``min(left, deductible not yet charged)``);
   ``assistance = (left − assistance deductible) × kind ratio``, at most what remains of the kind's annual cap
   (one cap for both kinds unless the rule sets an outpatient cap of its own).
7. ``person_pays = total − basic − large − critical − assistance`` and ``fund_ratio = funds / total``.
8. **Employees' personal account (个人账户)**: when the person agrees (``acct_used_flag``) at an outpatient
   counter or pharmacy, ``account_pay = min(balance, person_pays)`` comes from the account and the person pays
   ``cash_pay = person_pays − account_pay``; the account's balance after is ``balance − account_pay``.

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
GENERAL_OUTPATIENT = "general_outpatient"
CHRONIC_OUTPATIENT = "chronic_outpatient"

GROUP_CUT = "cut"
GROUP_FIRST_SHARE = "first_share"

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
    retiree_deductible: Decimal | None = None


@dataclass(frozen=True)
class Tier:
    """Critical-illness tier: pays ``ratio`` on the part above the threshold from ``lower`` to the next tier."""

    lower: Decimal
    ratio: Decimal


@dataclass(frozen=True)
class AssistanceTerms:
    """Medical assistance for one category of people: after a yearly deductible, a ratio of the remaining
    burden up to a yearly cap; inpatient terms, and outpatient ones where they differ (None: the same ratio,
    one cap for both)."""

    ratio: Decimal
    annual_cap: Decimal
    deductible: Decimal = ZERO
    outpatient_ratio: Decimal | None = None
    outpatient_deductible: Decimal = ZERO
    outpatient_cap: Decimal | None = None


ASSISTANCE_ORDER = ("extremely_poor", "low_income", "marginal", "poverty_risk")


@dataclass(frozen=True)
class PreferentialTerms:
    """Critical-illness terms for people in need: which identities get them, and how the terms change."""

    identities: frozenset[str] = frozenset({"extremely_poor", "low_income", "poverty_risk"})
    threshold_factor: Decimal = Decimal("0.50")
    ratio_bonus: Decimal = Decimal("0.05")
    uncapped: bool = True


@dataclass(frozen=True)
class CriticalTerms:
    """The critical-illness terms applied to one person: ``cap`` is None when there is none."""

    threshold: Decimal
    tiers: tuple[Tier, ...]
    cap: Decimal | None
    preferential: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyTerms:
    """The insured place's policy for one pooling area, scheme and year, as plain values."""

    rates: Mapping[tuple[str, int], Rate]
    annual_cap: Decimal
    deductible_per_admission: bool = True
    group_cuts: Mapping[str, Decimal] = field(default_factory=dict)
    group_terms: str = "cut"  # or "first_share": the group's rate is a first personal share instead
    critical_threshold: Decimal = ZERO
    critical_tiers: Sequence[Tier] = ()
    critical_cap: Decimal = ZERO
    assistance: Mapping[str, AssistanceTerms] = field(default_factory=dict)
    large_amount_ratio: Decimal = ZERO
    large_amount_cap: Decimal = ZERO
    repeat_admission_factor: Decimal = ONE
    general_outpatient_cap: Decimal | None = None  # None: only the annual cap
    general_outpatient_counts_to_critical: bool = True
    disease_limits: Mapping[str, Decimal] = field(default_factory=dict)
    preferential: PreferentialTerms | None = None


@dataclass(frozen=True)
class CatalogueEntry:
    """One item of the treatment province's catalogue."""

    code: str
    name: str
    category: str
    coverage_class: str
    first_share_rate: Decimal = ZERO
    max_price: Decimal | None = None  # payment standard: the highest unit price the funds pay on
    restriction: str = ""  # a restricted use (in words): payable only when the counter confirms it
    min_level: int | None = None  # payable only at institutions of this level or higher


@dataclass(frozen=True)
class BillItem:
    """One billed line as the counter sends it; ``restricted_use_met`` is the counter's ``lmt_used_flag``."""

    code: str
    quantity: Decimal
    unit_price: Decimal
    name: str = ""
    restricted_use_met: bool = False


@dataclass(frozen=True)
class PersonFacts:
    """What the arithmetic needs to know about the person."""

    retired: bool = False
    filing_group: str = ""
    assistance_category: str = ""
    identities: frozenset[str] = frozenset()
    account_balance: Decimal | None = None  # the personal account's balance when the person agreed to use it


@dataclass(frozen=True)
class YearToDate:
    """The person's accumulators for the year and scheme; ``deductible_paid`` is the visit type's bucket."""

    deductible_paid: Decimal = ZERO
    basic_fund_paid: Decimal = ZERO
    critical_fund_paid: Decimal = ZERO
    assistance_paid: Decimal = ZERO
    burden: Decimal = ZERO
    large_amount_paid: Decimal = ZERO
    assistance_outpatient_paid: Decimal = ZERO  # the outpatient part of assistance_paid
    assistance_deductible_paid: Decimal = ZERO  # the visit kind's (inpatient / outpatient) bucket
    general_outpatient_basic_paid: Decimal = ZERO
    disease_basic_paid: Decimal = ZERO  # the basic fund paid this year for the visit's certified disease
    admissions: int = 0  # inpatient admissions settled this year


@dataclass(frozen=True)
class Visit:
    visit_type: str
    institution_level: int
    disease: str = ""  # the certified chronic/special disease treated (chronic outpatient visits)


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
    overlmt_selfpay: Decimal = ZERO  # the part of self_paid above the payment standard
    self_pay_reason: str = ""  # why (part of) the line is self-paid: see SELF_PAY_REASONS


# Why a line (or its part) is self-paid.
NOT_IN_CATALOGUE = "not_in_catalogue"
CLASS_C_ITEM = "class_c"
RESTRICTED_CONDITION = "restricted_condition"
RESTRICTED_LEVEL = "restricted_level"
OVER_PAYMENT_STANDARD = "over_price"


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
    critical_terms: CriticalTerms | None = None
    group_share: Decimal = ZERO
    group_rate: Decimal = ZERO  # the filing group's cut or first-share rate that applied (0: none)
    group_terms: str = "cut"
    large_amount: Decimal = ZERO  # hifob_pay
    large_amount_capped: bool = False
    assistance_category: str = ""  # the category whose assistance terms applied
    assistance_deductible: Decimal = ZERO
    basic_limit: str = ""  # which limit cut the basic fund: annual_cap, general_outpatient_cap, disease_limit
    deductible_variant: str = ""  # "retiree", "repeat_admission" or both joined by "+"
    account_pay: Decimal = ZERO  # acct_pay: the part of person_pays paid from the personal account

    @property
    def fund_total(self) -> Decimal:
        return self.basic_fund + self.large_amount + self.critical_fund + self.assistance

    @property
    def fund_ratio(self) -> Decimal:
        if not self.total:
            return Decimal("0.0000")
        return (self.fund_total / self.total).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)

    @property
    def cash_pay(self) -> Decimal:
        return self.person_pays - self.account_pay

    @property
    def overlmt_selfpay(self) -> Decimal:
        return sum((line.overlmt_selfpay for line in self.lines), ZERO)

    @property
    def burden(self) -> Decimal:
        """The personal burden within the eligible scope before critical illness and assistance."""
        return self.eligible - self.basic_fund - self.large_amount


def itemise(
    items: Sequence[BillItem],
    catalogue: Mapping[str, CatalogueEntry],
    institution_level: int | None = None,
) -> tuple[Line, ...]:
    """Split each billed line into self-paid, first share and eligible by the treatment place's catalogue,
    its payment standards and restricted uses (the one door for those rules)."""
    lines = []
    for index, item in enumerate(items):
        if not isinstance(item.quantity, Decimal) or not item.quantity.is_finite() or item.quantity <= 0:
            raise CalculationError(SettlementErrorCode.INVALID_QUANTITY, f"items.{index}.quantity")
        if not isinstance(item.unit_price, Decimal) or not item.unit_price.is_finite() or item.unit_price < 0:
            raise CalculationError(SettlementErrorCode.INVALID_PRICE, f"items.{index}.unit_price")
        amount = to_fen(item.quantity * item.unit_price)
        entry = catalogue.get(item.code)
        self_paid = first_share = eligible = overlmt = ZERO
        reason = ""
        if entry is None:
            self_paid, reason = amount, NOT_IN_CATALOGUE
        elif entry.coverage_class not in (CLASS_A, CLASS_B):
            self_paid, reason = amount, CLASS_C_ITEM
        elif entry.restriction and not item.restricted_use_met:
            self_paid, reason = amount, RESTRICTED_CONDITION
        elif (
            entry.min_level is not None
            and institution_level is not None
            and institution_level < entry.min_level
        ):
            self_paid, reason = amount, RESTRICTED_LEVEL
        else:
            payable = amount
            if entry.max_price is not None and item.unit_price > entry.max_price:
                payable = min(amount, to_fen(item.quantity * entry.max_price))
                overlmt = amount - payable
                self_paid, reason = overlmt, OVER_PAYMENT_STANDARD
            if entry.coverage_class == CLASS_B:
                first_share = to_fen(payable * entry.first_share_rate)
                eligible = payable - first_share
            else:
                eligible = payable
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
                overlmt_selfpay=overlmt,
                self_pay_reason=reason,
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
    if policy.group_terms == GROUP_CUT:
        ratio -= policy.group_cuts.get(person.filing_group, ZERO)
    return min(max(ratio, Decimal(0)), ONE)


def group_first_share(policy: PolicyTerms, person: PersonFacts, eligible: Decimal) -> Decimal:
    """The temporary filer's first personal share of the eligible amount (0 unless the policy uses shares)."""
    if policy.group_terms != GROUP_FIRST_SHARE:
        return ZERO
    return to_fen(eligible * policy.group_cuts.get(person.filing_group, ZERO))


def critical_terms(policy: PolicyTerms, person: PersonFacts) -> CriticalTerms:
    """The critical-illness threshold, tiers and cap for this person: the policy's, or the preferential ones
    when the person holds on the visit date an identity the policy names (the one door for that rule)."""
    tiers = tuple(sorted(policy.critical_tiers, key=lambda t: t.lower))
    pref = policy.preferential
    held = tuple(sorted(person.identities & pref.identities)) if pref is not None else ()
    if not held:
        return CriticalTerms(threshold=policy.critical_threshold, tiers=tiers, cap=policy.critical_cap)
    return CriticalTerms(
        threshold=to_fen(policy.critical_threshold * pref.threshold_factor),
        tiers=tuple(Tier(lower=t.lower, ratio=min(ONE, t.ratio + pref.ratio_bonus)) for t in tiers),
        cap=None if pref.uncapped else policy.critical_cap,
        preferential=held,
    )


def deductible_for(
    policy: PolicyTerms, rate: Rate, person: PersonFacts, ytd: YearToDate, visit: Visit
) -> tuple[Decimal, str]:
    """The deductible of this visit before what the year has already absorbed, and which variants applied:
    the retirees' deductible, the reduction for a second and later admission (the one door for them)."""
    variants = []
    deductible = rate.deductible
    if person.retired and rate.retiree_deductible is not None:
        deductible = rate.retiree_deductible
        variants.append("retiree")
    if (
        visit.visit_type == INPATIENT
        and policy.deductible_per_admission
        and ytd.admissions >= 1
        and policy.repeat_admission_factor != ONE
    ):
        deductible = to_fen(deductible * policy.repeat_admission_factor)
        variants.append("repeat_admission")
    return deductible, "+".join(variants)


def basic_limit(policy: PolicyTerms, ytd: YearToDate, visit: Visit) -> tuple[str, Decimal]:
    """The tightest limit on the basic fund for this visit and what remains of it: the annual cap, the
    general-outpatient annual limit, the certified disease's annual limit (the one door for those limits)."""
    limits = [("annual_cap", policy.annual_cap - ytd.basic_fund_paid)]
    if visit.visit_type == GENERAL_OUTPATIENT and policy.general_outpatient_cap is not None:
        limits.append(
            ("general_outpatient_cap", policy.general_outpatient_cap - ytd.general_outpatient_basic_paid)
        )
    if visit.disease and visit.disease in policy.disease_limits:
        limits.append(("disease_limit", policy.disease_limits[visit.disease] - ytd.disease_basic_paid))
    name, left = min(limits, key=lambda item: item[1])
    return name, max(ZERO, left)


def assistance_terms(policy: PolicyTerms, person: PersonFacts) -> tuple[str, AssistanceTerms | None]:
    """The medical-assistance category and terms for this person: their assistance category if the policy
    names it, else the first identity in force that it names (the one door for who gets assistance)."""
    if person.assistance_category and person.assistance_category in policy.assistance:
        return person.assistance_category, policy.assistance[person.assistance_category]
    for category in ASSISTANCE_ORDER:
        if category in person.identities and category in policy.assistance:
            return category, policy.assistance[category]
    return "", None


def large_amount(
    policy: PolicyTerms,
    ytd: YearToDate,
    base: Decimal,
    basic: Decimal,
    basic_uncapped: Decimal,
    ratio: Decimal,
) -> tuple[Decimal, bool]:
    """The employees' large-amount cover on the eligible costs above the basic fund's annual cap, and whether
    its own cap cut it (the one door for that rule). ``base`` is what the basic ratio applied to."""
    if policy.large_amount_ratio <= 0 or policy.large_amount_cap <= 0 or ratio <= 0:
        return ZERO, False
    if basic >= basic_uncapped:  # the basic fund paid in full: nothing is above its cap
        return ZERO, False
    covered = to_fen(basic / ratio)  # the costs the basic fund paid on (≥ basic, as ratio ≤ 1)
    excess = max(ZERO, base - covered)
    if not excess:
        return ZERO, False
    uncapped = to_fen(excess * policy.large_amount_ratio)
    large = min(uncapped, max(ZERO, policy.large_amount_cap - ytd.large_amount_paid))
    return large, large < uncapped


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

    lines = itemise(items, catalogue, visit.institution_level)
    total = sum((line.amount for line in lines), ZERO)
    self_paid = sum((line.self_paid for line in lines), ZERO)
    first_share = sum((line.first_share for line in lines), ZERO)
    eligible = sum((line.eligible for line in lines), ZERO)

    if policy.group_terms not in (GROUP_CUT, GROUP_FIRST_SHARE):
        raise CalculationError("policy_incomplete", "group_terms")
    group_share = group_first_share(policy, person, eligible)

    # 2. Deductible
    per_admission = visit.visit_type == INPATIENT and policy.deductible_per_admission
    full_deductible, variant = deductible_for(policy, rate, person, ytd, visit)
    remaining_deductible = (
        full_deductible if per_admission else max(ZERO, full_deductible - ytd.deductible_paid)
    )
    deductible = min(eligible - group_share, remaining_deductible)

    # 3. Basic fund
    ratio = basic_ratio(policy, rate, person)
    basic_uncapped = to_fen((eligible - group_share - deductible) * ratio)
    limit, cap_left = basic_limit(policy, ytd, visit)
    basic = min(basic_uncapped, cap_left)
    large, large_capped = (
        large_amount(policy, ytd, eligible - group_share - deductible, basic, basic_uncapped, ratio)
        if limit == "annual_cap"
        else (ZERO, False)
    )

    # 4. Burden in scope, accumulated over the year (general outpatient only where the policy counts it)
    burden = eligible - basic - large
    counts = visit.visit_type != GENERAL_OUTPATIENT or policy.general_outpatient_counts_to_critical
    burden_ytd = ytd.burden + (burden if counts else ZERO)

    # 5. Critical illness on the year's burden above the threshold
    crit = critical_terms(policy, person)
    over = max(ZERO, burden_ytd - crit.threshold)
    payable_uncapped = to_fen(tiered(over, crit.tiers))
    payable_ytd = payable_uncapped if crit.cap is None else min(payable_uncapped, crit.cap)
    critical = min(burden, max(ZERO, payable_ytd - ytd.critical_fund_paid)) if counts else ZERO

    # 6. Medical assistance on what is left of the burden
    assistance = assistance_deductible = ZERO
    assistance_capped = False
    outpatient = visit.visit_type != INPATIENT
    category, terms = assistance_terms(policy, person)
    if terms is not None:
        left = burden - critical
        kind_deductible = terms.outpatient_deductible if outpatient else terms.deductible
        assistance_deductible = min(left, max(ZERO, kind_deductible - ytd.assistance_deductible_paid))
        kind_ratio = (
            terms.outpatient_ratio if outpatient and terms.outpatient_ratio is not None else terms.ratio
        )
        assistance_uncapped = to_fen((left - assistance_deductible) * kind_ratio)
        if terms.outpatient_cap is None:  # one cap for both kinds
            cap_left = terms.annual_cap - ytd.assistance_paid
        elif outpatient:
            cap_left = terms.outpatient_cap - ytd.assistance_outpatient_paid
        else:
            cap_left = terms.annual_cap - (ytd.assistance_paid - ytd.assistance_outpatient_paid)
        assistance = min(assistance_uncapped, max(ZERO, cap_left))
        assistance_capped = assistance < assistance_uncapped

    person_pays = total - basic - large - critical - assistance
    account_pay = ZERO
    if person.account_balance is not None:
        if visit.visit_type == INPATIENT:
            raise CalculationError("account_not_for_inpatient", "acct_used_flag")
        account_pay = min(max(ZERO, person.account_balance), person_pays)
    after = replace(
        ytd,
        deductible_paid=ytd.deductible_paid + deductible,
        basic_fund_paid=ytd.basic_fund_paid + basic,
        large_amount_paid=ytd.large_amount_paid + large,
        critical_fund_paid=ytd.critical_fund_paid + critical,
        assistance_paid=ytd.assistance_paid + assistance,
        assistance_outpatient_paid=ytd.assistance_outpatient_paid + (assistance if outpatient else ZERO),
        assistance_deductible_paid=ytd.assistance_deductible_paid + assistance_deductible,
        general_outpatient_basic_paid=ytd.general_outpatient_basic_paid
        + (basic if visit.visit_type == GENERAL_OUTPATIENT else ZERO),
        disease_basic_paid=ytd.disease_basic_paid + (basic if visit.disease else ZERO),
        admissions=ytd.admissions + (1 if visit.visit_type == INPATIENT else 0),
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
        critical_terms=crit,
        group_share=group_share,
        group_rate=policy.group_cuts.get(person.filing_group, ZERO),
        group_terms=policy.group_terms,
        large_amount=large,
        large_amount_capped=large_capped,
        assistance_category=category if terms is not None else "",
        basic_limit=limit if basic < basic_uncapped else "",
        deductible_variant=variant,
        account_pay=account_pay,
        assistance_deductible=assistance_deductible,
    )


def applied_rules(split: Split) -> dict:
    """The benefit rules this split applied beyond the policy's plain terms, as JSON-able values for the
    settlement's record, its receipt and the person's page (see ``settlement.explain``)."""
    rules: dict = {}
    crit = split.critical_terms
    if crit is not None and crit.preferential:
        rules["preferential_critical"] = {
            "identities": list(crit.preferential),
            "threshold": str(crit.threshold),
            "tiers": [[str(t.lower), str(t.ratio)] for t in crit.tiers],
            "cap": None if crit.cap is None else str(crit.cap),
        }
    limited = [
        {
            "line": n,
            "code": line.code,
            "reason": line.self_pay_reason,
            "amount": str(
                line.overlmt_selfpay if line.self_pay_reason == OVER_PAYMENT_STANDARD else line.amount
            ),
        }
        for n, line in enumerate(split.lines, 1)
        if line.self_pay_reason in (RESTRICTED_CONDITION, RESTRICTED_LEVEL, OVER_PAYMENT_STANDARD)
    ]
    if limited:
        rules["payment_standards"] = limited
    if split.deductible_variant:
        rules["deductible_variant"] = {
            "variants": split.deductible_variant.split("+"),
            "amount": str(split.deductible),
        }
    if split.basic_limit and split.basic_limit != "annual_cap":
        rules["visit_limit"] = {"limit": split.basic_limit, "amount": str(split.basic_fund)}
    if split.large_amount or split.large_amount_capped:
        rules["large_amount"] = {
            "amount": str(split.large_amount),
            "capped": split.large_amount_capped,
        }
    if split.assistance_category and (split.assistance or split.assistance_deductible):
        rules["assistance"] = {
            "category": split.assistance_category,
            "deductible": str(split.assistance_deductible),
            "amount": str(split.assistance),
            "capped": split.assistance_capped,
        }
    if split.group_rate:
        rules["temporary_reduction"] = {
            "terms": split.group_terms,
            "rate": str(split.group_rate),
            "group_share": str(split.group_share),
        }
    return rules
