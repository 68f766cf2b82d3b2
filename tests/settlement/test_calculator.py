"""The pure settlement arithmetic (settlement.calculator): no database, every figure worked by hand."""

from decimal import Decimal as D

import pytest

from settlement.calculator import (
    AssistanceTerms,
    BillItem,
    CalculationError,
    CatalogueEntry,
    PersonFacts,
    PolicyTerms,
    Rate,
    Tier,
    Visit,
    YearToDate,
    settle,
    tiered,
    to_fen,
)

pytestmark = pytest.mark.embedded

CATALOGUE = {
    "XA": CatalogueEntry("XA", "阿莫西林胶囊", "drug", "A"),
    "XB": CatalogueEntry("XB", "阿托伐他汀钙片", "drug", "B", D("0.10")),
    "XB15": CatalogueEntry("XB15", "人血白蛋白", "drug", "B", D("0.15")),
    "XC": CatalogueEntry("XC", "特需病房床位费差价", "service", "C"),
}


def policy(**overrides) -> PolicyTerms:
    values = dict(
        rates={
            ("inpatient", 3): Rate(D("1000.00"), D("0.80"), D("0.85")),
            ("general_outpatient", 3): Rate(D("200.00"), D("0.50")),
            ("chronic_outpatient", 3): Rate(D("0.00"), D("0.75")),
        },
        annual_cap=D("300000.00"),
        group_cuts={"temporary": D("0.10")},
        critical_threshold=D("15000.00"),
        critical_tiers=(Tier(D("0"), D("0.60")), Tier(D("100000"), D("0.70"))),
        critical_cap=D("400000.00"),
        assistance={"low_income": AssistanceTerms(D("0.70"), D("50000.00"))},
    )
    values.update(overrides)
    return PolicyTerms(**values)


def run(items, *, visit_type="inpatient", level=3, person=PersonFacts(), ytd=YearToDate(), terms=None):
    return settle(
        policy=terms or policy(),
        catalogue=CATALOGUE,
        items=items,
        person=person,
        ytd=ytd,
        visit=Visit(visit_type, level),
    )


def item(code, quantity, price):
    return BillItem(code, D(str(quantity)), D(str(price)))


def assert_adds_up(split):
    assert split.total == split.self_paid + split.first_share + split.eligible
    assert split.total == split.basic_fund + split.critical_fund + split.assistance + split.person_pays
    for line in split.lines:
        assert line.amount == line.self_paid + line.first_share + line.eligible


def test_class_a_is_eligible_in_full_and_class_c_is_self_paid():
    split = run([item("XA", 10, "2.50"), item("XC", 2, "100")], visit_type="chronic_outpatient")
    # 甲 10 × 2.50 = 25.00 eligible; 丙 2 × 100 = 200.00 self-paid; no deductible; 25.00 × 75% = 18.75.
    assert (split.total, split.eligible, split.self_paid) == (D("225.00"), D("25.00"), D("200.00"))
    assert split.basic_fund == D("18.75")
    assert split.person_pays == D("206.25")
    assert_adds_up(split)


def test_code_missing_from_the_catalogue_is_self_paid_and_named_as_sent():
    split = run([BillItem("NOT-LISTED", D("1"), D("88.00"), name="进口药")], visit_type="chronic_outpatient")
    line = split.lines[0]
    assert not line.in_catalogue and line.coverage_class == ""
    assert line.self_paid == D("88.00") and line.name == "进口药"
    assert split.basic_fund == D("0.00") and split.person_pays == D("88.00")


def test_class_b_first_share_per_item_rate():
    split = run([item("XB", 3, "33.33"), item("XB15", 2, "450")], visit_type="chronic_outpatient")
    # XB: 3 × 33.33 = 99.99; first share 10% = 9.999 → 10.00; eligible 89.99
    # XB15: 2 × 450 = 900.00; first share 15% = 135.00; eligible 765.00
    assert [line.first_share for line in split.lines] == [D("10.00"), D("135.00")]
    assert split.eligible == D("854.99")
    # basic = 854.99 × 75% = 641.2425 → 641.24 (the one rounding, half up)
    assert split.basic_fund == D("641.24")
    assert_adds_up(split)


def test_deductible_is_charged_once_a_year_for_outpatient():
    first = run([item("XA", 1, "150")], visit_type="general_outpatient")
    # 150 eligible, all of it absorbed by the 200 deductible
    assert (first.deductible, first.basic_fund) == (D("150.00"), D("0.00"))
    second = run([item("XA", 1, "150")], visit_type="general_outpatient", ytd=first.after)
    # 50 of the deductible remain: (150 − 50) × 50% = 50.00
    assert (second.deductible, second.basic_fund) == (D("50.00"), D("50.00"))
    third = run([item("XA", 1, "150")], visit_type="general_outpatient", ytd=second.after)
    assert (third.deductible, third.basic_fund) == (D("0.00"), D("75.00"))


def test_inpatient_deductible_per_admission_or_per_year():
    ytd = YearToDate(deductible_paid=D("1000.00"))
    per_admission = run([item("XA", 1, "5000")], ytd=ytd)
    assert per_admission.deductible == D("1000.00")
    per_year = run([item("XA", 1, "5000")], ytd=ytd, terms=policy(deductible_per_admission=False))
    assert per_year.deductible == D("0.00")
    assert per_year.basic_fund == D("4000.00")


def test_retirees_ratio_and_group_cut():
    bill = [item("XA", 1, "11000")]
    assert run(bill).ratio == D("0.80")
    assert run(bill, person=PersonFacts(retired=True)).ratio == D("0.85")
    # other temporary filers: 80% − 10 points = 70%; (11000 − 1000) × 70% = 7000
    temporary = run(bill, person=PersonFacts(filing_group="temporary"))
    assert (temporary.ratio, temporary.basic_fund) == (D("0.70"), D("7000.00"))
    assert run(bill, person=PersonFacts(filing_group="referral")).ratio == D("0.80")


def test_annual_cap_limits_the_basic_fund():
    split = run([item("XA", 1, "11000")], ytd=YearToDate(basic_fund_paid=D("298000.00")))
    # uncapped (11000 − 1000) × 80% = 8000, but only 300000 − 298000 = 2000 remain
    assert split.basic_fund == D("2000.00") and split.basic_capped
    assert split.after.basic_fund_paid == D("300000.00")
    assert_adds_up(split)


def test_critical_illness_tiers_on_the_years_burden():
    assert tiered(D("150000"), (Tier(D("0"), D("0.60")), Tier(D("100000"), D("0.70")))) == D("95000.0")
    ytd = YearToDate(burden=D("115000.00"), critical_fund_paid=D("60000.00"))
    split = run([item("XA", 1, "51000")], ytd=ytd)
    # basic (51000 − 1000) × 80% = 40000; burden 11000 → year 126000; over 15000 = 111000
    # payable 100000 × 60% + 11000 × 70% = 67700; already paid 60000 → 7700
    assert split.burden == D("11000.00")
    assert split.critical_fund == D("7700.00")
    assert split.after.critical_fund_paid == D("67700.00")


def test_critical_illness_cap():
    split = run(
        [item("XA", 1, "51000")],
        ytd=YearToDate(burden=D("115000.00"), critical_fund_paid=D("60000.00")),
        terms=policy(critical_cap=D("65000.00")),
    )
    assert split.critical_fund == D("5000.00") and split.critical_capped


def test_assistance_only_for_eligible_categories_and_up_to_its_cap():
    bill = [item("XA", 1, "11000")]
    assert run(bill).assistance == D("0.00")
    helped = run(bill, person=PersonFacts(assistance_category="low_income"))
    # burden 11000 − 8000 = 3000 (below the critical threshold) × 70% = 2100
    assert helped.assistance == D("2100.00")
    capped = run(
        bill,
        person=PersonFacts(assistance_category="low_income"),
        ytd=YearToDate(assistance_paid=D("49500.00")),
    )
    assert capped.assistance == D("500.00") and capped.assistance_capped
    # a category the policy does not name gets nothing
    assert run(bill, person=PersonFacts(assistance_category="marginal")).assistance == D("0.00")


def test_rounding_is_half_up_once_and_the_split_always_adds_up():
    assert to_fen(D("0.005")) == D("0.01") and to_fen(D("0.0049")) == D("0.00")
    split = run(
        [item("XA", 3, "0.335"), item("XB", 7, "1.115"), item("XC", 1, "0.01")],
        visit_type="chronic_outpatient",
        person=PersonFacts(assistance_category="low_income"),
    )
    # 3 × 0.335 = 1.005 → 1.01; 7 × 1.115 = 7.805 → 7.81, first share 0.781 → 0.78
    assert [line.amount for line in split.lines] == [D("1.01"), D("7.81"), D("0.01")]
    assert split.lines[1].first_share == D("0.78")
    assert_adds_up(split)


def test_fund_ratio_is_funds_over_total():
    split = run([item("XA", 1, "11000")])
    # 8000 / 11000 = 0.72727… → 0.7273
    assert split.fund_ratio == D("0.7273")


@pytest.mark.parametrize(
    ("items", "code"),
    [
        ([item("XA", -1, "10")], "invalid_quantity"),
        ([item("XA", 0, "10")], "invalid_quantity"),
        ([item("XA", 1, "-0.01")], "invalid_price"),
        ([BillItem("XA", D("NaN"), D("1"))], "invalid_quantity"),
        ([], "no_items"),
    ],
)
def test_bad_items_are_refused_with_a_code(items, code):
    with pytest.raises(CalculationError) as exc:
        run(items)
    assert exc.value.code == code


def test_unknown_visit_type_and_missing_rate_are_refused():
    with pytest.raises(CalculationError) as exc:
        run([item("XA", 1, "1")], visit_type="dental")
    assert exc.value.code == "invalid_visit_type"
    with pytest.raises(CalculationError) as exc:
        run([item("XA", 1, "1")], level=1)
    assert exc.value.code == "policy_incomplete"
