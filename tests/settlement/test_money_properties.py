"""Money properties over random bills, settled through the service and read back from the database.

Each seed draws a policy (sometimes with caps small enough to be hit), a catalogue with classes 甲/乙/丙, a
person (retired or not, with or without a medical-assistance category, filed in one of several groups) and a
few visits of every type at institutions of several levels, with fen amounts, fractional quantities and items
missing from the catalogue. After each settlement the split adds up exactly, line by line and in total, no
fund pays beyond its cap, and the accumulators hold exactly the sum of what the settlements added; reversing
them newest first restores every accumulator exactly. Plain `random` with fixed seeds: a failure names its seed
and replays the same bills.
"""

import datetime as dt
import random
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
from django.db.models import F, Sum

from accounts.choices import AssistanceCategory
from accounts.models import DiseaseCertification
from filing.dates import today
from settlement.models import Accumulator, CatalogueItem, DiseaseLimit, PersonalAccount, Settlement
from settlement.services import ItemInput, settlement_create, settlement_reverse
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

SEEDS = list(range(12))
ACCUMULATED = (
    "deductible_inpatient",
    "deductible_general_outpatient",
    "deductible_chronic_outpatient",
    "basic_fund_paid",
    "large_amount_paid",
    "critical_fund_paid",
    "assistance_paid",
    "assistance_outpatient_paid",
    "assistance_deductible_inpatient",
    "assistance_deductible_outpatient",
    "general_outpatient_basic_paid",
    "admissions",
    "burden",
)
VISIT_TYPES = ("inpatient", "general_outpatient", "chronic_outpatient")


def fen(rng, low: int, high: int) -> D:
    return D(rng.randint(low, high)) / 100


def ratio(rng, low: int, high: int) -> D:
    return D(rng.randint(low, high)) / 100


def draw_policy(rng, tight: bool):
    """Caps far below the bills when `tight`, else the usual sizes; rates for every visit type and level."""
    rates = {
        (visit_type, level): (
            str(fen(rng, 0, 150000)),
            str(ratio(rng, 40, 95)),
            str(ratio(rng, 45, 100)) if rng.random() < 0.7 else None,
        )
        for visit_type in VISIT_TYPES
        for level in (0, 1, 2, 3)
    }
    second_tier = rng.randint(1, 5000000)
    return f.policy(
        rates=rates,
        annual_cap=fen(rng, 10000, 100000) if tight else fen(rng, 5000000, 40000000),
        deductible_per_admission=rng.random() < 0.6,
        temporary_terms=rng.choice(["cut", "first_share"]),
        temporary_cut=ratio(rng, 0, 20),
        referral_cut=ratio(rng, 0, 10),
        critical_threshold=fen(rng, 0, 2000000),
        tiers=(("0", str(ratio(rng, 50, 70))), (str(D(second_tier) / 100), str(ratio(rng, 60, 90)))),
        critical_cap=fen(rng, 10000, 500000) if tight else fen(rng, 10000000, 50000000),
        repeat_admission_factor=ratio(rng, 30, 100),
        general_outpatient_cap=fen(rng, 0, 100000) if rng.random() < 0.5 else None,
        general_outpatient_counts_to_critical=rng.random() < 0.5,
        large_amount_ratio=ratio(rng, 0, 95) if rng.random() < 0.7 else D("0"),
        large_amount_cap=fen(rng, 1000, 100000) if tight else fen(rng, 1000000, 50000000),
        preferential_threshold_factor=ratio(rng, 30, 100),
        preferential_ratio_bonus=ratio(rng, 0, 10),
        preferential_uncapped=rng.random() < 0.7,
        assistance={
            category: (
                str(ratio(rng, low, 100)),
                str(fen(rng, 5000, 200000 if tight else 10000000)),
                str(fen(rng, 0, 200000)),
                str(ratio(rng, 20, 100)) if rng.random() < 0.5 else None,
                str(fen(rng, 0, 50000)),
                str(fen(rng, 1000, 100000 if tight else 2000000)) if rng.random() < 0.5 else None,
            )
            for category, low in (("low_income", 30), ("extremely_poor", 60), ("poverty_risk", 40))
        },
    )


def draw_catalogue(rng) -> list[str]:
    codes = []
    for n in range(10):
        code = f"RND{n:03d}"
        coverage_class = rng.choice("AABBC")
        share = str(ratio(rng, 5, 30)) if coverage_class == "B" and rng.random() < 0.5 else None
        extra = {}
        if rng.random() < 0.3:  # a payment standard, to the tenth of a fen
            extra["max_price"] = D(rng.randint(1, 500000)) / 1000
        if rng.random() < 0.15:
            extra["restriction"] = "限定支付范围"
        if rng.random() < 0.15:
            extra["min_level"] = rng.randint(1, 3)
        f.catalogue_item(
            code, f"随机项目{n}", coverage_class, first_share=share, default_share="0.10", **extra
        )
        codes.append(code)
    return codes


def draw_bill(rng, codes: list[str], visit_type: str) -> list[ItemInput]:
    largest = 2000000 if visit_type == "inpatient" else 80000
    bill = []
    for _ in range(rng.randint(1, 7)):
        listed = rng.random() < 0.85
        code = rng.choice(codes) if listed else f"NOT-LISTED-{rng.randint(1, 99)}"
        if rng.random() < 0.2:  # a fraction of a box, a price to the tenth of a fen
            quantity = D(rng.randint(1, 40000)) / 10000
            unit_price = D(rng.randint(1, largest * 100)) / 10000
        else:
            quantity = D(rng.randint(1, 30))
            unit_price = fen(rng, 1, largest // 4)
        bill.append(
            ItemInput(
                code=code,
                quantity=quantity,
                unit_price=unit_price,
                name="" if listed else "自带",
                lmt_used_flag=rng.random() < 0.5,
            )
        )
    return bill


def accumulator(person) -> dict[str, D]:
    acc = Accumulator.objects.filter(person=person).first()
    values = {name: getattr(acc, name) if acc else D("0.00") for name in ACCUMULATED}
    values["diabetes_basic_paid"] = (
        D((acc.disease_basic_paid or {}).get("diabetes", "0.00")) if acc else D("0.00")
    )
    return values


def assert_split_exact(s: Settlement) -> None:
    assert s.total == s.self_paid + s.first_share + s.eligible
    assert s.total == (
        s.basic_fund + s.large_amount_fund + s.critical_fund + s.assistance_fund + s.person_pays
    )
    for amount in (s.self_paid, s.first_share, s.eligible, s.deductible, s.person_pays):
        assert amount >= 0 and amount == amount.quantize(D("0.01"))
    for fund in (s.basic_fund, s.large_amount_fund, s.critical_fund, s.assistance_fund):
        assert fund >= 0
    assert s.group_share >= 0 and s.group_share == s.group_share.quantize(D("0.01"))
    assert s.deductible + s.group_share <= s.eligible
    assert s.basic_fund <= s.eligible - s.group_share - s.deductible
    # The funds pay only within the eligible scope: the person always pays the self-paid part and first share.
    assert s.fund_total <= s.eligible
    # The large-amount cover pays only once the basic fund has reached its annual cap.
    if s.large_amount_fund:
        assert s.details["capped"]["basic"] or s.basic_fund == 0
    lines = list(s.lines.all())
    assert sum(line.amount for line in lines) == s.total
    for name in ("self_paid", "first_share", "eligible"):
        assert sum(getattr(line, name) for line in lines) == getattr(s, name)
    assert sum(line.overlmt_selfpay for line in lines) == s.overlmt_selfpay
    for line in lines:
        assert line.amount == line.self_paid + line.first_share + line.eligible
        # The part above a payment standard is part of what the person pays themself, never negative.
        assert D("0.00") <= line.overlmt_selfpay <= line.self_paid
        if line.self_pay_reason == "over_price":
            standard = CatalogueItem.objects.get(code=line.code).max_price
            assert line.first_share + line.eligible == (line.quantity * standard).quantize(
                D("0.01"), rounding=ROUND_HALF_UP
            )
        elif line.self_pay_reason:
            assert line.self_paid == line.amount and line.overlmt_selfpay == 0
        if not line.in_catalogue or line.coverage_class == "C":
            assert line.self_paid == line.amount
        if line.coverage_class == "A":
            assert line.eligible == line.amount - line.self_paid and line.first_share == 0
            assert line.self_paid == 0 or line.self_pay_reason


@pytest.mark.parametrize("seed", SEEDS)
def test_random_bills_split_exactly_within_caps_and_reverse_exactly(seed):
    rng = random.Random(seed)
    tight = seed % 3 == 0
    policy = draw_policy(rng, tight)
    codes = draw_catalogue(rng)
    DiseaseLimit.objects.create(policy=policy, disease="diabetes", annual_limit=fen(rng, 0, 300000))
    for rate in policy.rates.all():  # a retirees' deductible at some levels
        if rng.random() < 0.4:
            rate.retiree_deductible = fen(rng, 0, 150000)
            rate.save()
    category = rng.choice(["", AssistanceCategory.LOW_INCOME, AssistanceCategory.EXTREMELY_POOR])
    person = person_factory(retired=rng.random() < 0.3, assistance_category=category)
    # An identity of need in force (or not) on the visit day: preferential critical-illness terms.
    identity = rng.choice(["", "", "extremely_poor", "low_income", "poverty_risk", "marginal"])
    if identity:
        f.identity(person, identity)
    preferential = identity in policy.preferential_identities
    DiseaseCertification.objects.create(
        person=person, disease="diabetes", valid_from=today() - dt.timedelta(days=1)
    )
    opening = fen(rng, 0, 200000)
    PersonalAccount.objects.create(person=person, balance=opening)  # every person here is an employee
    filing = f.filed(person, group=rng.choice(["resident", "worker", "temporary", "referral"]))
    counters = {level: f.counter(f.hospital(level=level))[0] for level in (1, 2, 3)}

    before, made = [], []
    for _ in range(rng.randint(3, 6)):
        visit_type = rng.choice(VISIT_TYPES)
        operator = counters[rng.choice((1, 2, 3))]
        visit = {"visit_type": visit_type, "items": draw_bill(rng, codes, visit_type)}
        if visit_type == "inpatient":
            visit.update(
                admission_date=today() - dt.timedelta(days=rng.randint(0, 30)), discharge_date=today()
            )
            if rng.random() < 0.5:
                visit.update(filing_id=filing.pk, id_number=person.id_number)
        else:
            visit.update(visit_date=today())
            visit["acct_used_flag"] = rng.random() < 0.6
            if visit_type == "chronic_outpatient":
                visit["disease"] = "diabetes"  # certified below; the policy limits it
        if "filing_id" not in visit:
            visit["use_id"] = f.consumed_use(person, operator)
        before.append(accumulator(person))

        settlement, created = settlement_create(operator=operator, **visit)

        assert created
        stored = Settlement.objects.get(pk=settlement.pk)
        for name in ("total", "self_paid", "first_share", "eligible", "deductible", "person_pays"):
            assert getattr(stored, name) == getattr(settlement, name), name
        assert_split_exact(stored)
        made.append((stored, operator))

    settled = Settlement.objects.filter(person=person)
    after = accumulator(person)
    # Every fund within its yearly cap; the accumulators are exactly the sum of what the settlements added.
    assert after["basic_fund_paid"] <= policy.annual_cap
    assert after["large_amount_paid"] <= policy.large_amount_cap
    if policy.general_outpatient_cap is not None:
        assert after["general_outpatient_basic_paid"] <= policy.general_outpatient_cap
    assert after["diabetes_basic_paid"] <= policy.disease_limits.get().annual_limit
    by_type = {
        visit_type: settled.filter(visit_type=visit_type).aggregate(s=Sum("basic_fund"))["s"] or D("0.00")
        for visit_type in VISIT_TYPES
    }
    assert after["general_outpatient_basic_paid"] == by_type["general_outpatient"]
    assert after["diabetes_basic_paid"] == by_type["chronic_outpatient"]
    assert after["admissions"] == settled.filter(visit_type="inpatient").count()
    # The personal account paid only within each share and holds the opening balance less what it paid.
    account_paid = settled.aggregate(s=Sum("account_pay"))["s"]
    assert PersonalAccount.objects.get(person=person).balance == opening - account_paid >= 0
    assert not settled.filter(account_pay__gt=F("person_pays")).exists()
    assert not settled.filter(visit_type="inpatient").exclude(account_pay=0).exists()
    if not policy.general_outpatient_counts_to_critical:
        assert not settled.filter(visit_type="general_outpatient").exclude(critical_fund=0).exists()
    if not (preferential and policy.preferential_uncapped):
        assert after["critical_fund_paid"] <= policy.critical_cap
    for s, _ in made:
        assert ("preferential_critical" in s.details["rules"]) == preferential
        # A temporary filer's reduction is either a ratio cut or a first share, never both.
        if policy.temporary_terms == "first_share":
            assert s.ratio <= 1 and (s.group_share == 0 or filing.group in ("temporary", "referral"))
        else:
            assert s.group_share == D("0.00")
    # The assistance category: the person's, else the identity in force the policy names.
    applied = category or (identity if identity in ("low_income", "extremely_poor", "poverty_risk") else "")
    if applied:
        rule = policy.assistance_rules.get(category=applied)
        if rule.outpatient_cap is None:
            assert after["assistance_paid"] <= rule.annual_cap
        else:
            assert after["assistance_outpatient_paid"] <= rule.outpatient_cap
            assert after["assistance_paid"] - after["assistance_outpatient_paid"] <= rule.annual_cap
        assert after["assistance_deductible_inpatient"] <= rule.deductible
        assert after["assistance_deductible_outpatient"] <= rule.outpatient_deductible
    else:
        assert after["assistance_paid"] == D("0.00")
    sums = settled.aggregate(
        basic=Sum("basic_fund"),
        critical=Sum("critical_fund"),
        assistance=Sum("assistance_fund"),
        large=Sum("large_amount_fund"),
    )
    assert after["large_amount_paid"] == sums["large"]
    assert (after["basic_fund_paid"], after["critical_fund_paid"], after["assistance_paid"]) == (
        sums["basic"],
        sums["critical"],
        sums["assistance"],
    )
    for visit_type in VISIT_TYPES:
        charged = settled.filter(visit_type=visit_type).aggregate(s=Sum("deductible"))["s"] or D("0.00")
        assert after[f"deductible_{visit_type}"] == charged
    assert settled.aggregate(s=Sum("total"))["s"] == sum(s.total for s, _ in made)
    if tight:
        assert any(any(s.details["capped"].values()) for s, _ in made), "a tight cap was never reached"

    for (settlement, operator), restored in zip(reversed(made), reversed(before), strict=True):
        settlement_reverse(settlement_id=settlement.pk, operator=operator, reason="property test")
        assert accumulator(person) == restored
    assert accumulator(person) == dict.fromkeys([*ACCUMULATED, "diabetes_basic_paid"], D("0.00"))
    assert PersonalAccount.objects.get(person=person).balance == opening
