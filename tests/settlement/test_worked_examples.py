"""Worked examples settled end to end (e-code use or filing + ID number → settlement_create), with the arithmetic.

Rounding rule (settlement.calculator): each computed money value is rounded once, to the fen, half up; the
person pays the difference, so the split adds up to the total exactly.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from accounts.choices import AssistanceCategory
from filing.dates import today
from reference.choices import Scheme
from settlement.models import Accumulator
from settlement.services import ItemInput, settlement_create, settlement_reverse
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def assert_adds_up(s):
    assert s.total == s.self_paid + s.first_share + s.eligible
    assert s.total == s.basic_fund + s.large_amount_fund + s.critical_fund + s.assistance_fund + s.person_pays


def test_inpatient_three_protections_pay_91_4_percent():
    """A low-income resident of Baoding (Hebei, 130600), filed as a long-term resident in Beijing, is discharged
    from a level-3 Beijing hospital after 20 days (coronary bypass). Basic insurance, critical-illness insurance
    and medical assistance are settled in one stop and together pay 91.4 % of the bill.

    Baoding's resident policy (demo figures): inpatient deductible at level 3 ¥1,300 per admission, fund ratio
    55 %; critical illness above ¥12,000 a year, 60 % up to ¥100,000 over it; medical assistance for low-income
    people 90 % of what remains, up to ¥60,000 a year. Beijing's catalogue: class 乙 first share 10 %.

    Bill (treatment place's catalogue):
      甲  床位费 20 × 60.00 = 1,200.00        甲  Ⅰ级护理 20 × 26.00 = 520.00
      甲  重症监护 5 × 510.00 = 2,550.00      甲  冠状动脉旁路移植术 1 × 12,800.00 = 12,800.00
      甲  体外循环 1 × 4,500.00 = 4,500.00    甲  注射用头孢呋辛钠 60 × 18.50 = 1,110.00
      甲  心脏彩色多普勒超声 2 × 260.00 = 520.00
      甲  一次性使用体外循环管路 1 × 8,800.00 = 8,800.00                 class 甲 = 32,000.00
      乙  人血白蛋白 20 × 450.00 = 9,000.00   (first share 900.00)
      乙  胸骨闭合器 1 × 7,650.00 = 7,650.00  (first share 765.00)
      乙  阿托伐他汀钙片 10 × 35.00 = 350.00  (first share 35.00)        class 乙 = 17,000.00, first share 1,700.00
      丙  特需病房床位费差价 10 × 100.00 = 1,000.00 (self-paid)
    total                      = 32,000 + 17,000 + 1,000                 = 50,000.00
    eligible                   = 32,000 + (17,000 − 1,700)              = 47,300.00
    basic fund                 = (47,300 − 1,300 deductible) × 55 %     = 25,300.00
    burden in scope            = 47,300 − 25,300                        = 22,000.00
    critical illness           = (22,000 − 12,000 threshold) × 60 %     =  6,000.00
    medical assistance         = (22,000 − 6,000) × 90 %                = 14,400.00
    funds                      = 25,300 + 6,000 + 14,400                = 45,700.00 = 91.4 % of 50,000
    person pays                = 50,000 − 45,700                        =  4,300.00
                               = 1,000 (丙) + 1,700 (乙 first share) + 1,600 (10 % of 16,000 left)
    """
    f.policy(
        region_code="130600",
        scheme=Scheme.RESIDENT,
        rates={("inpatient", 3): ("1300.00", "0.55", None)},
        critical_threshold=D("12000.00"),
        assistance={"low_income": ("0.90", "60000.00")},
    )
    bill = [
        ("250203001", "床位费", "A", "service", 20, "60.00"),
        ("220000001", "Ⅰ级护理", "A", "service", 20, "26.00"),
        ("220800001", "重症监护", "A", "service", 5, "510.00"),
        ("330802010", "冠状动脉旁路移植术", "A", "service", 1, "12800.00"),
        ("330803001", "体外循环", "A", "service", 1, "4500.00"),
        ("XJ01DCC038B001", "注射用头孢呋辛钠", "A", "drug", 60, "18.50"),
        ("220600004", "心脏彩色多普勒超声", "A", "service", 2, "260.00"),
        ("C0302010010000", "一次性使用体外循环管路", "A", "consumable", 1, "8800.00"),
        ("XB05AAR044B002", "人血白蛋白", "B", "drug", 20, "450.00"),
        ("C0207020020000", "胸骨闭合器", "B", "consumable", 1, "7650.00"),
        ("XC10AAA105A001", "阿托伐他汀钙片", "B", "drug", 10, "35.00"),
        ("250203099", "特需病房床位费差价", "C", "service", 10, "100.00"),
    ]
    for code, name, cls, category, _q, _p in bill:
        f.catalogue_item(code, name, cls, category=category)
    person = person_factory(
        insured_region="130600", scheme=Scheme.RESIDENT, assistance_category=AssistanceCategory.LOW_INCOME
    )
    filing = f.filed(person, group="resident", start_date=today() - dt.timedelta(days=40))
    operator, _key = f.counter()

    settlement, created = settlement_create(
        operator=operator,
        visit_type="inpatient",
        filing_id=filing.pk,
        id_number=person.id_number,
        admission_date=today() - dt.timedelta(days=20),
        discharge_date=today(),
        items=f.items(*[(code, q, p) for code, _n, _c, _cat, q, p in bill]),
    )

    assert created
    assert settlement.total == D("50000.00")
    assert settlement.self_paid == D("1000.00")
    assert settlement.first_share == D("1700.00")
    assert settlement.eligible == D("47300.00")
    assert settlement.deductible == D("1300.00")
    assert settlement.ratio == D("0.5500")
    assert settlement.basic_fund == D("25300.00")
    assert settlement.critical_fund == D("6000.00")
    assert settlement.assistance_fund == D("14400.00")
    assert settlement.fund_total == D("45700.00")
    assert settlement.person_pays == D("4300.00")
    assert settlement.fund_ratio == D("0.9140")
    assert_adds_up(settlement)
    assert settlement.filing == filing and settlement.code_event is None
    acc = Accumulator.objects.get(person=person, year=today().year, scheme=Scheme.RESIDENT)
    assert (
        acc.deductible_inpatient,
        acc.basic_fund_paid,
        acc.critical_fund_paid,
        acc.assistance_paid,
        acc.burden,
    ) == (D("1300.00"), D("25300.00"), D("6000.00"), D("14400.00"), D("22000.00"))


def test_chronic_outpatient_visit_uses_the_rest_of_the_yearly_deductible():
    """An employee of Shijiazhuang's scheme filed in Beijing as a long-term worker, at a level-3 hospital's
    chronic-disease outpatient (diabetes and hyperlipidaemia). Chronic outpatient: deductible ¥300 once a year,
    fund ratio 75 %.

    Visit 1 (earlier this year): 甲 二甲双胍缓释片 4 × 30.00 = 120.00, all of it absorbed by the deductible:
      deductible 120.00, basic 0.00, person pays 120.00; ¥180 of the deductible remain.
    Visit 2:
      乙  阿托伐他汀钙片 6 × 35.00 = 210.00, first share 10 % = 21.00, eligible 189.00
      甲  二甲双胍缓释片 4 × 28.50 = 114.00
      甲  门诊诊查费 1 × 50.00 = 50.00
      total 374.00; eligible 189 + 114 + 50 = 353.00
      deductible = the 180.00 left this year
      basic = (353.00 − 180.00) × 75 % = 129.75
      person pays = 374.00 − 129.75 = 244.25 (first share 21.00 + deductible 180.00 + co-pay 43.25)
    """
    f.policy(region_code="130100")
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    f.catalogue_item("XA10BAA057A010", "二甲双胍缓释片", "A")
    f.catalogue_item("110200001", "门诊诊查费", "A", category="service")
    person = person_factory(insured_region="130100")
    f.filed(person, group="worker")
    operator, _key = f.counter()

    first, _ = settlement_create(
        operator=operator,
        visit_type="chronic_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(("XA10BAA057A010", 4, "30.00")),
    )
    assert (first.deductible, first.basic_fund, first.person_pays) == (D("120.00"), D("0.00"), D("120.00"))

    second, _ = settlement_create(
        operator=operator,
        visit_type="chronic_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(
            ("XC10AAA105A001", 6, "35.00"), ("XA10BAA057A010", 4, "28.50"), ("110200001", 1, "50.00")
        ),
    )
    assert second.total == D("374.00")
    assert second.first_share == D("21.00")
    assert second.eligible == D("353.00")
    assert second.deductible == D("180.00")
    assert second.basic_fund == D("129.75")
    assert second.person_pays == D("244.25")
    assert_adds_up(second)
    acc = Accumulator.objects.get(person=person)
    assert acc.deductible_chronic_outpatient == D("300.00")
    assert acc.deductible_general_outpatient == D("0.00")


def test_class_b_drug_first_share_and_the_one_rounding():
    """General outpatient at a level-2 Beijing hospital (deductible ¥200 a year, ratio 55 %). Beijing's catalogue
    takes 10 % first share on class 乙 unless an item says otherwise; this inhaler's is 20 %.

      乙  阿托伐他汀钙片 3 × 35.00 = 105.00, first share 10 % = 10.50, eligible 94.50
      乙  布地奈德福莫特罗吸入粉雾剂 2 × 228.00 = 456.00, first share 20 % = 91.20, eligible 364.80
      甲  门诊诊查费 1 × 50.00 = 50.00
      total 611.00; first share 101.70; eligible 94.50 + 364.80 + 50.00 = 509.30
      basic = (509.30 − 200.00) × 55 % = 170.115 → 170.12 (rounded once, half up)
      person pays = 611.00 − 170.12 = 440.88
    """
    f.policy()
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    f.catalogue_item("XR03AKB106L001", "布地奈德福莫特罗吸入粉雾剂", "B", first_share="0.20")
    f.catalogue_item("110200001", "门诊诊查费", "A", category="service")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter(f.hospital(level=2))

    s, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(
            ("XC10AAA105A001", 3, "35.00"), ("XR03AKB106L001", 2, "228.00"), ("110200001", 1, "50")
        ),
    )
    lines = list(s.lines.order_by("line_no"))
    assert [line.first_share for line in lines] == [D("10.50"), D("91.20"), D("0.00")]
    assert [line.eligible for line in lines] == [D("94.50"), D("364.80"), D("50.00")]
    assert (s.total, s.first_share, s.eligible, s.deductible) == (
        D("611.00"),
        D("101.70"),
        D("509.30"),
        D("200.00"),
    )
    assert s.basic_fund == D("170.12")
    assert s.person_pays == D("440.88")
    assert_adds_up(s)


def test_other_temporary_filer_gets_the_reduced_ratio():
    """A Chengdu employee filed as 'other temporary' (no referral) in Beijing; the policy cuts 10 points.
    Inpatient, level 3: deductible ¥1,000, ratio 80 % − 10 = 70 %.

      甲  床位费 7 × 60.00 = 420.00
      甲  腹腔镜下阑尾切除术 1 × 2,800.00 = 2,800.00
      甲  注射用头孢呋辛钠 21 × 18.50 = 388.50
      甲  X线计算机体层(CT)平扫 1 × 220.00 = 220.00
      total = eligible = 3,828.50
      basic = (3,828.50 − 1,000.00) × 70 % = 1,979.95   (a long-term filer: × 80 % = 2,262.80)
      person pays = 3,828.50 − 1,979.95 = 1,848.55
    """
    f.policy()
    bill = [
        ("250203001", 7, "60.00"),
        ("331003012", 1, "2800.00"),
        ("XJ01DCC038B001", 21, "18.50"),
        ("210300001", 1, "220.00"),
    ]
    for code, name in [
        ("250203001", "床位费"),
        ("331003012", "腹腔镜下阑尾切除术"),
        ("XJ01DCC038B001", "注射用头孢呋辛钠"),
        ("210300001", "X线计算机体层(CT)平扫"),
    ]:
        f.catalogue_item(code, name, "A")
    operator, _key = f.counter()
    temporary = person_factory()
    f.filed(temporary, group="temporary")
    resident = person_factory()
    f.filed(resident, group="resident")

    kwargs = {
        "visit_type": "inpatient",
        "admission_date": today() - dt.timedelta(days=7),
        "discharge_date": today(),
        "items": f.items(*bill),
    }
    cut, _ = settlement_create(operator=operator, use_id=f.consumed_use(temporary, operator), **kwargs)
    full, _ = settlement_create(operator=operator, use_id=f.consumed_use(resident, operator), **kwargs)

    assert cut.filing_group == "temporary" and cut.ratio == D("0.7000")
    assert cut.basic_fund == D("1979.95") and cut.person_pays == D("1848.55")
    assert full.ratio == D("0.8000") and full.basic_fund == D("2262.80")
    assert_adds_up(cut)


def test_annual_cap_reached_and_critical_illness_takes_over():
    """A Chengdu employee (cap ¥300,000 a year, inpatient level 3: ¥1,000 per admission, 80 %; critical illness
    above ¥15,000: 60 % up to ¥100,000 over it, 70 % beyond) has two long admissions this year.

    Admission 1: 甲 350,000.00 eligible
      basic = (350,000 − 1,000) × 80 % = 279,200.00 (cap left afterwards: 20,800.00)
      burden = 70,800.00; critical = (70,800 − 15,000) × 60 % = 33,480.00
    Admission 2: 甲 50,000.00 eligible
      basic uncapped = (50,000 − 1,000) × 80 % = 39,200.00 → capped at the 20,800.00 left
      burden = 50,000 − 20,800 = 29,200.00; the year's burden = 70,800 + 29,200 = 100,000.00
      critical payable this year = (100,000 − 15,000) × 60 % = 51,000.00; already paid 33,480.00 → 17,520.00
      person pays = 50,000 − 20,800 − 17,520 = 11,680.00
    """
    f.policy()
    f.catalogue_item("331000001", "综合诊疗(按病种)", "A", category="service")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    stay = {
        "visit_type": "inpatient",
        "admission_date": today() - dt.timedelta(days=30),
        "discharge_date": today(),
    }

    first, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        items=f.items(("331000001", 1, "350000.00")),
        **stay,
    )
    assert (first.basic_fund, first.critical_fund) == (D("279200.00"), D("33480.00"))

    second, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        items=f.items(("331000001", 1, "50000.00")),
        **stay,
    )
    assert second.basic_fund == D("20800.00")
    assert second.details["capped"]["basic"] is True
    assert second.critical_fund == D("17520.00")
    assert second.person_pays == D("11680.00")
    assert_adds_up(second)
    acc = Accumulator.objects.get(person=person)
    assert acc.basic_fund_paid == D("300000.00")
    assert acc.critical_fund_paid == D("51000.00")


def test_inpatient_deductible_per_admission_or_once_a_year_by_policy():
    """Two admissions of ¥5,000 (甲). Per admission (default): 1,000 deductible each time, basic 3,200 twice.
    Once a year (deductible_per_admission off): the second admission has no deductible: 5,000 × 80 % = 4,000."""
    f.catalogue_item("331000001", "综合诊疗(按病种)", "A", category="service")
    operator, _key = f.counter()
    stay = {
        "visit_type": "inpatient",
        "admission_date": today() - dt.timedelta(days=3),
        "discharge_date": today(),
        "items": f.items(("331000001", 1, "5000.00")),
    }

    f.policy()
    per_admission = person_factory()
    f.filed(per_admission)
    f.policy(region_code="510300", deductible_per_admission=False)  # Zigong, Sichuan
    per_year = person_factory(insured_region="510300")
    f.filed(per_year)

    results = {}
    for person in (per_admission, per_year):
        results[person.pk] = [
            settlement_create(operator=operator, use_id=f.consumed_use(person, operator), **stay)[0]
            for _ in range(2)
        ]
    assert [(s.deductible, s.basic_fund) for s in results[per_admission.pk]] == [
        (D("1000.00"), D("3200.00")),
        (D("1000.00"), D("3200.00")),
    ]
    assert [(s.deductible, s.basic_fund) for s in results[per_year.pk]] == [
        (D("1000.00"), D("3200.00")),
        (D("0.00"), D("4000.00")),
    ]


def test_reversal_restores_the_accumulators_exactly():
    """A general-outpatient settlement (甲 500.00: deductible 200.00, basic (500 − 200) × 50 % = 150.00) is
    reversed the same day: the accumulators return to zero, so the next visit pays the deductible again; a
    second reversal is refused."""
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    visit = {
        "visit_type": "general_outpatient",
        "visit_date": today(),
        "items": f.items(("XJ01CAA040A001", 20, "25.00")),
    }

    s, _ = settlement_create(operator=operator, use_id=f.consumed_use(person, operator), **visit)
    assert (s.deductible, s.basic_fund) == (D("200.00"), D("150.00"))
    acc = Accumulator.objects.get(person=person)
    assert (acc.deductible_general_outpatient, acc.basic_fund_paid, acc.burden) == (
        D("200.00"),
        D("150.00"),
        D("350.00"),
    )

    reversed_ = settlement_reverse(settlement_id=s.pk, operator=operator, reason="录入错误")
    assert reversed_.status == "reversed" and reversed_.reversed_by == operator
    acc.refresh_from_db()
    assert (
        acc.deductible_general_outpatient,
        acc.basic_fund_paid,
        acc.critical_fund_paid,
        acc.assistance_paid,
        acc.burden,
    ) == (D("0.00"),) * 5

    again, _ = settlement_create(operator=operator, use_id=f.consumed_use(person, operator), **visit)
    assert (again.deductible, again.basic_fund) == (D("200.00"), D("150.00"))

    with pytest.raises(Exception) as exc:
        settlement_reverse(settlement_id=s.pk, operator=operator)
    assert exc.value.code == "already_reversed"


# --- Preferential critical-illness terms for people in need (国办发〔2021〕42号) -----------------------------

PREFERENTIAL_BILL = [
    ("250203001", "床位费", "service", 30, "60.00"),
    ("220800001", "重症监护", "service", 10, "510.00"),
    ("330803001", "体外循环", "service", 1, "4500.00"),
    ("330802010", "冠状动脉旁路移植术", "service", 1, "12800.00"),
    ("C0302010010000", "一次性使用体外循环管路", "consumable", 1, "8800.00"),
    ("C0301020010000", "人工心脏瓣膜", "consumable", 2, "33500.00"),
]


def _preferential_setup():
    f.policy(
        region_code="130600",
        scheme=Scheme.RESIDENT,
        rates={("inpatient", 3): ("1300.00", "0.55", None)},
        critical_threshold=D("12000.00"),
        tiers=(("0", "0.60"), ("20000", "0.70")),
        critical_cap=D("20000.00"),
        assistance={},
    )
    for code, name, category, _q, _p in PREFERENTIAL_BILL:
        f.catalogue_item(code, name, "A", category=category)


def _discharge(operator, person, filing):
    settlement, created = settlement_create(
        operator=operator,
        visit_type="inpatient",
        filing_id=filing.pk,
        id_number=person.id_number,
        admission_date=today() - dt.timedelta(days=30),
        discharge_date=today(),
        items=f.items(*[(code, q, p) for code, _n, _c, q, p in PREFERENTIAL_BILL]),
    )
    assert created
    return settlement


def test_extremely_poor_referral_gets_half_threshold_five_points_more_and_no_cap():
    """Two Baoding residents referred to the same level-3 Beijing hospital for a valve replacement and bypass,
    with the same bill. One is confirmed extremely poor (特困) by Baoding's civil-affairs bureau from 1 January;
    the other holds no identity. Neither has medical assistance here, to show critical illness alone.

    Baoding's resident policy (demo figures): inpatient level 3 deductible ¥1,300, ratio 55 %; critical illness
    above ¥12,000 a year, 60 % up to ¥20,000 above the threshold and 70 % beyond, at most ¥20,000 a year.
    National preferential terms (国办发〔2021〕42号): threshold × 50 %, every segment + 5 points, no cap.

    Bill, all class 甲:
      床位费 30 × 60.00 = 1,800.00            重症监护 10 × 510.00 = 5,100.00
      体外循环 1 × 4,500.00 = 4,500.00         冠状动脉旁路移植术 1 × 12,800.00 = 12,800.00
      一次性使用体外循环管路 1 × 8,800.00 = 8,800.00
      人工心脏瓣膜 2 × 33,500.00 = 67,000.00
    total = eligible                                           = 100,000.00
    basic fund       = (100,000 − 1,300) × 55 %                =  54,285.00
    burden in scope  = 100,000 − 54,285                        =  45,715.00

    Ordinary terms:   over = 45,715 − 12,000                   =  33,715.00
                      20,000 × 60 % + 13,715 × 70 %             = 12,000 + 9,600.50 = 21,600.50
                      capped at ¥20,000                         → critical 20,000.00
                      person pays 100,000 − 54,285 − 20,000     =  25,715.00
    Extremely poor:   threshold 12,000 × 50 %                   =   6,000.00
                      over = 45,715 − 6,000                     =  39,715.00
                      20,000 × 65 % + 19,715 × 75 %             = 13,000 + 14,786.25 = 27,786.25, no cap
                      person pays 100,000 − 54,285 − 27,786.25  =  17,928.75
    """
    _preferential_setup()
    operator, _key = f.counter()
    poor = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(poor, "extremely_poor")
    ordinary = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    start = today() - dt.timedelta(days=40)
    poor_filing = f.filed(poor, group="referral", start_date=start)
    ordinary_filing = f.filed(ordinary, group="referral", start_date=start)

    helped = _discharge(operator, poor, poor_filing)
    plain = _discharge(operator, ordinary, ordinary_filing)

    for s in (helped, plain):
        assert s.total == s.eligible == D("100000.00")
        assert s.basic_fund == D("54285.00")
        assert_adds_up(s)
    assert plain.critical_fund == D("20000.00") and plain.person_pays == D("25715.00")
    assert plain.details["capped"]["critical"] is True
    assert "preferential_critical" not in plain.details["rules"]
    assert helped.critical_fund == D("27786.25") and helped.person_pays == D("17928.75")
    assert helped.details["capped"]["critical"] is False
    assert helped.details["rules"]["preferential_critical"] == {
        "identities": ["extremely_poor"],
        "threshold": "6000.00",
        "tiers": [["0.00", "0.6500"], ["20000.00", "0.7500"]],
        "cap": None,
    }
    acc = Accumulator.objects.get(person=poor, year=today().year, scheme=Scheme.RESIDENT)
    assert (acc.critical_fund_paid, acc.burden) == (D("27786.25"), D("45715.00"))

    # Reversal restores the accumulator; settling again gives the same preferential split.
    settlement_reverse(settlement_id=helped.pk, operator=operator, reason="wrong bill")
    acc.refresh_from_db()
    assert (acc.critical_fund_paid, acc.burden, acc.basic_fund_paid) == (D("0.00"),) * 3


def test_identity_outside_its_dates_gives_the_ordinary_terms():
    """An identity that ended before the discharge day, or starts after it, does not apply (same bill: the
    ordinary ¥20,000 critical illness, capped)."""
    _preferential_setup()
    operator, _key = f.counter()
    ended = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(
        ended,
        "low_income",
        valid_from=today() - dt.timedelta(days=400),
        valid_to=today() - dt.timedelta(days=1),
    )
    later = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(later, "poverty_risk", valid_from=today() + dt.timedelta(days=1))
    marginal = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(marginal, "marginal")  # not named by the national rule
    start = today() - dt.timedelta(days=40)
    for person in (ended, later, marginal):
        s = _discharge(operator, person, f.filed(person, group="referral", start_date=start))
        assert s.critical_fund == D("20000.00") and s.person_pays == D("25715.00")
        assert s.details["rules"] == {}


# --- Temporary filers: the national ceiling and the first personal share (医保发〔2022〕22号) --------------

APPENDIX_BILL = [
    ("250203001", "床位费", 7, "60.00"),
    ("331003012", "腹腔镜下阑尾切除术", 1, "2800.00"),
    ("XJ01DCC038B001", "注射用头孢呋辛钠", 21, "18.50"),
    ("210300001", "X线计算机体层(CT)平扫", 1, "220.00"),
]


def test_first_personal_share_instead_of_a_cut_for_temporary_filers():
    """Chengdu's employee policy uses a first personal share instead of a ratio cut: 20 % for other temporary
    filers, 10 % for referrals. The appendectomy bill of the cut example, inpatient level 3 (deductible
    ¥1,000, ratio 80 %):

      total = eligible = 420.00 + 2,800.00 + 388.50 + 220.00 = 3,828.50
      other temporary: first share = 3,828.50 × 20 % = 765.70
                       basic = (3,828.50 − 765.70 − 1,000.00) × 80 % = 2,062.80 × 80 % = 1,650.24
                       person pays 3,828.50 − 1,650.24 = 2,178.26 (765.70 + 1,000.00 + 412.56)
      referral:        first share = 3,828.50 × 10 % = 382.85
                       basic = (3,828.50 − 382.85 − 1,000.00) × 80 % = 2,445.65 × 80 % = 1,956.52
                       person pays 3,828.50 − 1,956.52 = 1,871.98
      long-term resident: no share, basic = 2,828.50 × 80 % = 2,262.80 (the ratio is not cut either)
    """
    f.policy(temporary_terms="first_share", temporary_cut=D("0.20"), referral_cut=D("0.10"))
    for code, name, _q, _p in APPENDIX_BILL:
        f.catalogue_item(code, name, "A")
    operator, _key = f.counter()
    kwargs = {
        "visit_type": "inpatient",
        "admission_date": today() - dt.timedelta(days=7),
        "discharge_date": today(),
        "items": f.items(*[(code, q, p) for code, _n, q, p in APPENDIX_BILL]),
    }
    results = {}
    for group in ("temporary", "referral", "resident"):
        person = person_factory()
        f.filed(person, group=group)
        results[group], _ = settlement_create(
            operator=operator, use_id=f.consumed_use(person, operator), **kwargs
        )

    temporary, referral, resident = results["temporary"], results["referral"], results["resident"]
    assert temporary.ratio == referral.ratio == resident.ratio == D("0.8000")
    assert (temporary.group_share, temporary.basic_fund, temporary.person_pays) == (
        D("765.70"),
        D("1650.24"),
        D("2178.26"),
    )
    assert (referral.group_share, referral.basic_fund, referral.person_pays) == (
        D("382.85"),
        D("1956.52"),
        D("1871.98"),
    )
    assert (resident.group_share, resident.basic_fund) == (D("0.00"), D("2262.80"))
    assert temporary.details["rules"]["temporary_reduction"] == {
        "terms": "first_share",
        "rate": "0.2000",
        "group_share": "765.70",
    }
    assert "temporary_reduction" not in resident.details["rules"]
    for s in results.values():
        assert_adds_up(s)
    # The share stays in the eligible scope: it counts toward the person's burden.
    acc = Accumulator.objects.get(person=temporary.person, year=today().year)
    assert acc.burden == D("3828.50") - D("1650.24")


def test_national_ceiling_on_the_reductions():
    """At most 10 points (or a 10 % first share) for referrals and emergencies, 20 for other temporary."""
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    from settlement.models import Policy

    policy = f.policy(temporary_cut=D("0.20"), referral_cut=D("0.10"), emergency_cut=D("0.10"))
    policy.full_clean()
    for name, value in (("referral_cut", "0.11"), ("emergency_cut", "0.15"), ("temporary_cut", "0.21")):
        setattr(policy, name, D(value))
        with pytest.raises(ValidationError) as refused:
            policy.full_clean()
        assert name in refused.value.message_dict
        with pytest.raises(IntegrityError), transaction.atomic():
            Policy.objects.filter(pk=policy.pk).update(**{name: D(value)})
        policy.refresh_from_db()


# --- Payment standards and restricted use on catalogue items ---------------------------------------------


def test_payment_standard_and_restricted_use_leave_the_excess_to_the_person():
    """A Chengdu employee filed as a long-term resident in Beijing is discharged from a level-2 hospital
    (deductible ¥600, ratio 85 %). Beijing's catalogue sets payment standards on two items, restricts two to a
    condition (the counter confirms it for one, 限定支付范围) and one to level-3 hospitals.

      1 甲 人工晶体 1 × 2,380.00, standard 1,500.00   → above the standard 880.00, eligible 1,500.00
      2 乙 注射用紫杉醇 10 × 38.25 = 382.50, standard 35.50 → 10 × 35.50 = 355.00 payable, above 27.50,
           first share 10 % 35.50, eligible 319.50
      3 乙 人血白蛋白 6 × 450.00 = 2,700.00, 限抢救或重症, not confirmed → self-paid 2,700.00
      4 乙 重组人血小板生成素注射液 2 × 1,000.00 = 2,000.00, 限化疗后血小板减少, confirmed
           → first share 200.00, eligible 1,800.00
      5 甲 术中神经电生理监测 1 × 800.00, payable from level 3 → self-paid 800.00 at level 2
      6 甲 床位费 10 × 60.00 = 600.00                 → eligible 600.00
    total       = 2,380 + 382.50 + 2,700 + 2,000 + 800 + 600                    = 8,862.50
    self-paid   = 880 + 27.50 + 2,700 + 800 = 4,407.50, of which above the standards 907.50
    first share = 35.50 + 200                                                   =   235.50
    eligible    = 1,500 + 319.50 + 1,800 + 600                                  = 4,219.50
    basic       = (4,219.50 − 600) × 85 % = 3,076.575                          → 3,076.58
    person pays = 8,862.50 − 3,076.58                                           = 5,785.92
    """
    f.policy()
    f.catalogue_item("C0101", "人工晶体", "A", category="consumable", max_price=D("1500.00"))
    f.catalogue_item("XL01CD01", "注射用紫杉醇", "B", max_price=D("35.50"))
    f.catalogue_item("XB05AAR044B002", "人血白蛋白", "B", restriction="限抢救或重症患者")
    f.catalogue_item("XB02BXT001", "重组人血小板生成素注射液", "B", restriction="限实体瘤化疗后血小板减少")
    f.catalogue_item("311000001", "术中神经电生理监测", "A", category="service", min_level=3)
    f.catalogue_item("250203001", "床位费", "A", category="service")
    person = person_factory()
    f.filed(person, group="resident")
    operator, _key = f.counter(f.hospital(level=2))
    items = f.items(
        ("C0101", 1, "2380.00"),
        ("XL01CD01", 10, "38.25"),
        ("XB05AAR044B002", 6, "450.00"),
        ("XB02BXT001", 2, "1000.00"),
        ("311000001", 1, "800.00"),
        ("250203001", 10, "60.00"),
    )
    items[3] = ItemInput(code="XB02BXT001", quantity=D(2), unit_price=D("1000.00"), lmt_used_flag=True)

    s, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        visit_type="inpatient",
        admission_date=today() - dt.timedelta(days=10),
        discharge_date=today(),
        items=items,
    )

    assert s.total == D("8862.50")
    assert (s.self_paid, s.overlmt_selfpay, s.first_share, s.eligible) == (
        D("4407.50"),
        D("907.50"),
        D("235.50"),
        D("4219.50"),
    )
    assert (s.deductible, s.ratio, s.basic_fund, s.person_pays) == (
        D("600.00"),
        D("0.8500"),
        D("3076.58"),
        D("5785.92"),
    )
    assert_adds_up(s)
    lines = {line.line_no: line for line in s.lines.all()}
    assert [(lines[n].self_pay_reason, lines[n].overlmt_selfpay) for n in range(1, 7)] == [
        ("over_price", D("880.00")),
        ("over_price", D("27.50")),
        ("restricted_condition", D("0.00")),
        ("", D("0.00")),
        ("restricted_level", D("0.00")),
        ("", D("0.00")),
    ]
    assert (lines[2].first_share, lines[2].eligible) == (D("35.50"), D("319.50"))
    assert [r["reason"] for r in s.details["rules"]["payment_standards"]] == [
        "over_price",
        "over_price",
        "restricted_condition",
        "restricted_level",
    ]


# --- Employees' large-amount cover (大额医疗费用补助, hifob_pay) ---------------------------------------------


def test_large_amount_cover_pays_above_the_basic_annual_cap_up_to_its_own_cap():
    """A Chengdu employee (filed as a long-term resident in Beijing) has two admissions at a level-3 hospital.
    Policy (demo figures): deductible ¥1,000 per admission, ratio 85 %, basic annual cap ¥50,000; large-amount
    cover 90 % of the eligible costs above the basic cap, up to ¥40,000 a year; no critical illness insurance
    for employees here.

    Admission 1, the ¥100,000.00 bill of the preferential example (all class 甲):
      base                = 100,000 − 1,000                       = 99,000.00
      basic               = 99,000 × 85 % = 84,150.00, capped at     50,000.00
      costs basic paid on = 50,000 ÷ 85 % = 58,823.529…            → 58,823.53
      above the cap       = 99,000 − 58,823.53                       = 40,176.47
      large-amount        = 40,176.47 × 90 % = 36,158.823           → 36,158.82
      person pays         = 100,000 − 50,000 − 36,158.82             = 13,841.18
    Admission 2, ¥9,600.00 (体外循环 4,500 + 重症监护 10 × 510):
      base 8,600.00; basic 0 (cap used up), so all of it is above the cap
      large-amount        = 8,600 × 90 % = 7,740.00, capped at 40,000 − 36,158.82 = 3,841.18
      person pays         = 9,600 − 3,841.18                          = 5,758.82
    """
    f.policy(
        rates={("inpatient", 3): ("1000.00", "0.85", None)},
        annual_cap=D("50000.00"),
        large_amount_ratio=D("0.90"),
        large_amount_cap=D("40000.00"),
        tiers=(),
        critical_cap=D("0.00"),
    )
    for code, name, category, _q, _p in PREFERENTIAL_BILL:
        f.catalogue_item(code, name, "A", category=category)
    person = person_factory()
    filing = f.filed(person, group="resident", start_date=today() - dt.timedelta(days=60))
    operator, _key = f.counter()

    def discharge(days_ago, rows):
        settlement, _ = settlement_create(
            operator=operator,
            visit_type="inpatient",
            filing_id=filing.pk,
            id_number=person.id_number,
            admission_date=today() - dt.timedelta(days=days_ago + 5),
            discharge_date=today() - dt.timedelta(days=days_ago),
            items=f.items(*rows),
        )
        return settlement

    first = discharge(20, [(code, q, p) for code, _n, _c, q, p in PREFERENTIAL_BILL])
    second = discharge(0, [("330803001", 1, "4500.00"), ("220800001", 10, "510.00")])

    assert (first.total, first.basic_fund, first.large_amount_fund, first.critical_fund) == (
        D("100000.00"),
        D("50000.00"),
        D("36158.82"),
        D("0.00"),
    )
    assert first.person_pays == D("13841.18") and first.fund_total == D("86158.82")
    assert first.details["capped"] == {
        "basic": True,
        "large_amount": False,
        "critical": False,
        "assistance": False,
    }
    assert (second.total, second.basic_fund, second.large_amount_fund, second.person_pays) == (
        D("9600.00"),
        D("0.00"),
        D("3841.18"),
        D("5758.82"),
    )
    assert second.details["capped"]["large_amount"] is True
    for s in (first, second):
        assert_adds_up(s)
    acc = Accumulator.objects.get(person=person, year=today().year)
    assert (acc.basic_fund_paid, acc.large_amount_paid) == (D("50000.00"), D("40000.00"))

    settlement_reverse(settlement_id=second.pk, operator=operator, reason="test")
    acc.refresh_from_db()
    assert acc.large_amount_paid == D("36158.82")


def test_large_amount_cover_is_for_employees_only():
    from django.core.exceptions import ValidationError

    policy = f.policy(scheme=Scheme.RESIDENT, large_amount_ratio=D("0.90"), large_amount_cap=D("1000.00"))
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "large_amount_ratio" in refused.value.message_dict


# --- Medical assistance as its own policy (医疗救助) --------------------------------------------------------


def test_medical_assistance_deductible_and_caps_inpatient_and_outpatient_separately():
    """A Baoding resident confirmed low-income (低保, an identity, no category typed in by hand), filed in
    Beijing, level-3 hospital. Baoding's resident policy: inpatient deductible ¥1,300, ratio 55 %; general
    outpatient deductible ¥100 a year, ratio 40 %; critical illness above ¥12,000, 60 % — for low-income people
    the preferential terms: above ¥6,000, 65 %, no cap. Medical assistance for low-income people: inpatient
    ¥1,000 deductible a year, 70 %, ¥30,000 a year; outpatient ¥200 deductible a year, 50 %, ¥100 a year.

    Inpatient ¥20,000.00 (all class 甲):
      basic 18,700 × 55 % = 10,285.00; burden 9,715.00
      critical (9,715 − 6,000) × 65 % = 2,414.75; left 7,300.25
      assistance (7,300.25 − 1,000) × 70 % = 4,410.175 → 4,410.18
      person pays 20,000 − 10,285 − 2,414.75 − 4,410.18 = 2,890.07
    Outpatient ¥1,000.00: basic (1,000 − 100) × 40 % = 360.00; burden 640.00 (year 10,355.00)
      critical (10,355 − 6,000) × 65 % = 2,830.75 to date, this visit 2,830.75 − 2,414.75 = 416.00; left 224.00
      assistance (224 − 200) × 50 % = 12.00; person pays 1,000 − 360 − 416 − 12 = 212.00
    Outpatient ¥1,000.00 again: basic 400.00; burden 600.00 (year 10,955.00)
      critical 3,220.75 − 2,830.75 = 390.00; left 210.00; assistance 105.00, capped at 100 − 12 = 88.00
      person pays 1,000 − 400 − 390 − 88 = 122.00
    The inpatient assistance cap is untouched by outpatient visits (30,000 − 4,410.18 left).
    """
    from settlement.models import AssistanceRule

    policy = f.policy(
        region_code="130600",
        scheme=Scheme.RESIDENT,
        rates={
            ("inpatient", 3): ("1300.00", "0.55", None),
            ("general_outpatient", 3): ("100.00", "0.40", None),
        },
        critical_threshold=D("12000.00"),
        tiers=(("0", "0.60"),),
        assistance={},
    )
    AssistanceRule.objects.create(
        policy=policy,
        category="low_income",
        deductible=D("1000.00"),
        ratio=D("0.70"),
        annual_cap=D("30000.00"),
        outpatient_deductible=D("200.00"),
        outpatient_ratio=D("0.50"),
        outpatient_cap=D("100.00"),
    )
    for code, name, category, _q, _p in PREFERENTIAL_BILL:
        f.catalogue_item(code, name, "A", category=category)
    person = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(person, "low_income")
    filing = f.filed(person, group="resident", start_date=today() - dt.timedelta(days=40))
    operator, _key = f.counter()

    inpatient, _ = settlement_create(
        operator=operator,
        visit_type="inpatient",
        filing_id=filing.pk,
        id_number=person.id_number,
        admission_date=today() - dt.timedelta(days=9),
        discharge_date=today() - dt.timedelta(days=2),
        items=f.items(("330802010", 1, "12800.00"), ("330803001", 1, "4500.00"), ("220800001", 5, "540.00")),
    )
    outpatients = []
    for _ in range(2):
        s, _ = settlement_create(
            operator=operator,
            use_id=f.consumed_use(person, operator),
            visit_type="general_outpatient",
            visit_date=today(),
            items=f.items(("220800001", 2, "500.00")),
        )
        outpatients.append(s)

    assert inpatient.total == D("20000.00")
    assert (
        inpatient.basic_fund,
        inpatient.critical_fund,
        inpatient.assistance_fund,
        inpatient.person_pays,
    ) == (
        D("10285.00"),
        D("2414.75"),
        D("4410.18"),
        D("2890.07"),
    )
    assert inpatient.assistance_category == "low_income"
    assert inpatient.details["rules"]["assistance"] == {
        "category": "low_income",
        "deductible": "1000.00",
        "amount": "4410.18",
        "capped": False,
    }
    first, second = outpatients
    assert (first.basic_fund, first.critical_fund, first.assistance_fund, first.person_pays) == (
        D("360.00"),
        D("416.00"),
        D("12.00"),
        D("212.00"),
    )
    assert (second.basic_fund, second.critical_fund, second.assistance_fund, second.person_pays) == (
        D("400.00"),
        D("390.00"),
        D("88.00"),
        D("122.00"),
    )
    assert second.details["capped"]["assistance"] is True
    for s in (inpatient, first, second):
        assert_adds_up(s)
    acc = Accumulator.objects.get(person=person, year=today().year)
    assert (
        acc.assistance_paid,
        acc.assistance_outpatient_paid,
        acc.assistance_deductible_inpatient,
        acc.assistance_deductible_outpatient,
    ) == (D("4510.18"), D("100.00"), D("1000.00"), D("200.00"))

    for s in (second, first, inpatient):
        settlement_reverse(settlement_id=s.pk, operator=operator, reason="test")
    acc.refresh_from_db()
    assert (
        acc.assistance_paid,
        acc.assistance_outpatient_paid,
        acc.assistance_deductible_inpatient,
        acc.assistance_deductible_outpatient,
        acc.burden,
    ) == (D("0.00"),) * 5


# --- Limits by visit type: general outpatient limit, chronic/special diseases (门诊慢特病) ------------------


def test_outpatient_limit_and_certified_chronic_disease_limit():
    """A Chengdu employee certified for diabetes (糖尿病) since 1 January by a Chengdu hospital, filed in
    Beijing, level-3 hospital. Chengdu's policy: general outpatient deductible ¥200 a year, 50 %, at most ¥300 a
    year from the basic fund, and general-outpatient costs do not count toward critical illness; chronic
    outpatient deductible ¥300 a year, 75 %; diabetes at most ¥1,000 a year.

      general outpatient ¥800: basic (800 − 200) × 50 % = 300.00 (the limit, just reached); burden 500.00,
                               not counted toward critical illness
      general outpatient ¥400: basic 400 × 50 % = 200.00, limit left 0 → 0.00; person pays 400.00
      diabetes ¥1,200:         basic (1,200 − 300) × 75 % = 675.00; burden 525.00 (counted)
      diabetes ¥1,000:         basic 1,000 × 75 % = 750.00, disease limit left 325.00 → 325.00;
                               person pays 675.00; burden counted 525 + 675 = 1,200.00
      hypertension (not certified) and a chronic visit without a disease are refused, nothing written.
    """
    from accounts.models import DiseaseCertification
    from core.errors import ServiceError
    from settlement.models import DiseaseLimit

    policy = f.policy(general_outpatient_cap=D("300.00"), general_outpatient_counts_to_critical=False)
    DiseaseLimit.objects.create(policy=policy, disease="diabetes", annual_limit=D("1000.00"))
    DiseaseLimit.objects.create(policy=policy, disease="hypertension", annual_limit=D("2000.00"))
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    person = person_factory()
    DiseaseCertification.objects.create(
        person=person,
        disease="diabetes",
        valid_from=dt.date(today().year, 1, 1),
        institution=f.hospital(region_code="510100", area="510104"),
    )
    f.filed(person)
    operator, _key = f.counter()

    def visit(visit_type, amount, disease=""):
        settlement, _ = settlement_create(
            operator=operator,
            use_id=f.consumed_use(person, operator),
            visit_type=visit_type,
            visit_date=today(),
            disease=disease,
            items=f.items(("XA10BA02", 1, amount)),
        )
        return settlement

    a = visit("general_outpatient", "800.00")
    b = visit("general_outpatient", "400.00")
    acc = Accumulator.objects.get(person=person, year=today().year)
    assert (a.basic_fund, b.basic_fund, b.person_pays) == (D("300.00"), D("0.00"), D("400.00"))
    assert b.details["rules"]["visit_limit"] == {"limit": "general_outpatient_cap", "amount": "0.00"}
    assert (acc.general_outpatient_basic_paid, acc.burden) == (D("300.00"), D("0.00"))

    c = visit("chronic_outpatient", "1200.00", "diabetes")
    d = visit("chronic_outpatient", "1000.00", "diabetes")
    assert (c.deductible, c.basic_fund) == (D("300.00"), D("675.00"))
    assert (d.basic_fund, d.person_pays, d.disease) == (D("325.00"), D("675.00"), "diabetes")
    assert d.details["rules"]["visit_limit"] == {"limit": "disease_limit", "amount": "325.00"}
    acc.refresh_from_db()
    assert acc.disease_basic_paid == {"diabetes": "1000.00"} and acc.burden == D("1200.00")
    for s in (a, b, c, d):
        assert_adds_up(s)

    for disease, code in (("hypertension", "disease_not_certified"), ("", "disease_required")):
        with pytest.raises(ServiceError) as refused:
            visit("chronic_outpatient", "100.00", disease)
        assert refused.value.code == code
    with pytest.raises(ServiceError) as refused:
        visit("general_outpatient", "100.00", "diabetes")
    assert refused.value.code == "invalid_disease"

    for s in (d, c, b, a):
        settlement_reverse(settlement_id=s.pk, operator=operator, reason="test")
    acc.refresh_from_db()
    assert (acc.disease_basic_paid, acc.general_outpatient_basic_paid, acc.burden, acc.basic_fund_paid) == (
        {"diabetes": "0.00"},
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )


# --- Deductible variants: retirees, later admissions --------------------------------------------------------


def test_retirees_deductible_and_the_reduced_deductible_for_later_admissions():
    """Chengdu's employee policy: inpatient level 3 deductible ¥1,000 (retirees ¥800), ratio 80 % (retirees
    85 %); the second and later admissions in a year pay half the deductible.

      retiree, admission 1, ¥5,000: basic (5,000 − 800) × 85 % = 3,570.00; person pays 1,430.00
      retiree, admission 2, ¥3,000: deductible 800 × 50 % = 400.00; basic 2,600 × 85 % = 2,210.00; pays 790.00
      employee, admission 1, ¥5,000: basic (5,000 − 1,000) × 80 % = 3,200.00
      employee, admission 2, ¥3,000: deductible 500.00; basic 2,500 × 80 % = 2,000.00
    Reversing the retiree's second admission makes the next one a second admission again.
    """
    from settlement.models import PolicyRate

    policy = f.policy(repeat_admission_factor=D("0.50"))
    PolicyRate.objects.filter(policy=policy, visit_type="inpatient", institution_level=3).update(
        retiree_deductible=D("800.00")
    )
    f.catalogue_item("331003012", "腹腔镜下阑尾切除术", "A", category="service")
    operator, _key = f.counter()
    results = {}
    for retired in (True, False):
        person = person_factory(retired=retired)
        filing = f.filed(person, group="retiree" if retired else "resident")
        for n, amount in ((1, "5000.00"), (2, "3000.00")):
            s, _ = settlement_create(
                operator=operator,
                visit_type="inpatient",
                filing_id=filing.pk,
                id_number=person.id_number,
                admission_date=today() - dt.timedelta(days=3),
                discharge_date=today(),
                items=f.items(("331003012", 1, amount)),
            )
            results[(retired, n)] = s

    assert [
        (s.deductible, s.basic_fund, s.person_pays) for s in (results[(True, 1)], results[(True, 2)])
    ] == [(D("800.00"), D("3570.00"), D("1430.00")), (D("400.00"), D("2210.00"), D("790.00"))]
    assert [(s.deductible, s.basic_fund) for s in (results[(False, 1)], results[(False, 2)])] == [
        (D("1000.00"), D("3200.00")),
        (D("500.00"), D("2000.00")),
    ]
    assert results[(True, 1)].details["rules"]["deductible_variant"] == {
        "variants": ["retiree"],
        "amount": "800.00",
    }
    assert results[(True, 2)].details["rules"]["deductible_variant"]["variants"] == [
        "retiree",
        "repeat_admission",
    ]
    assert "deductible_variant" not in results[(False, 1)].details["rules"]
    retiree = results[(True, 1)].person
    acc = Accumulator.objects.get(person=retiree, year=today().year)
    assert acc.admissions == 2
    settlement_reverse(settlement_id=results[(True, 2)].pk, operator=operator, reason="test")
    acc.refresh_from_db()
    assert acc.admissions == 1


# --- Employees' personal account (个人账户) -----------------------------------------------------------------


def test_personal_account_pays_the_persons_share_when_they_agree():
    """A retired Chengdu employee with ¥500.00 in the personal account, general outpatient at a level-3 Beijing
    hospital (deductible ¥200 a year, retirees' ratio 60 %), agrees to pay from the account (acct_used_flag).

      visit 1, ¥600.00: basic (600 − 200) × 60 % = 240.00; person's share 360.00
                        account pays 360.00 (balance 500 → 140.00); cash 0.00
      visit 2, ¥200.00: basic 200 × 60 % = 120.00; share 80.00; account 80.00 (balance 60.00)
      visit 3, ¥200.00 without agreement: the account is not touched; cash 80.00
      reversal of visit 3 and visit 2 gives the 80.00 back: balance 140.00
    """
    from core.errors import ServiceError
    from settlement.models import PersonalAccount

    f.policy()
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    person = person_factory(retired=True)
    account = PersonalAccount.objects.create(person=person, balance=D("500.00"))
    f.filed(person, group="retiree")
    operator, _key = f.counter()

    def visit(amount, agreed=True, visit_type="general_outpatient"):
        extra = (
            {"visit_date": today()}
            if visit_type != "inpatient"
            else {"admission_date": today() - dt.timedelta(days=1), "discharge_date": today()}
        )
        settlement, _ = settlement_create(
            operator=operator,
            use_id=f.consumed_use(person, operator),
            visit_type=visit_type,
            acct_used_flag=agreed,
            items=f.items(("XA10BA02", 1, amount)),
            **extra,
        )
        return settlement

    first, second, third = visit("600.00"), visit("200.00"), visit("200.00", agreed=False)
    assert (first.basic_fund, first.person_pays, first.account_pay, first.cash_pay) == (
        D("240.00"),
        D("360.00"),
        D("360.00"),
        D("0.00"),
    )
    assert first.account_balance_after == D("140.00")
    assert (second.basic_fund, second.account_pay, second.account_balance_after) == (
        D("120.00"),
        D("80.00"),
        D("60.00"),
    )
    assert (third.account_pay, third.cash_pay, third.account_balance_after) == (D("0.00"), D("80.00"), None)
    account.refresh_from_db()
    assert account.balance == D("60.00")

    with pytest.raises(ServiceError) as refused:
        visit("100.00", visit_type="inpatient")
    assert refused.value.code == "account_not_for_inpatient" and refused.value.status_code == 400
    resident = person_factory(scheme=Scheme.RESIDENT)
    f.policy(scheme=Scheme.RESIDENT)
    f.filed(resident)
    with pytest.raises(ServiceError) as refused:
        settlement_create(
            operator=operator,
            use_id=f.consumed_use(resident, operator),
            visit_type="general_outpatient",
            visit_date=today(),
            acct_used_flag=True,
            items=f.items(("XA10BA02", 1, "10.00")),
        )
    assert refused.value.code == "no_personal_account" and refused.value.status_code == 409

    for s in (third, second):
        settlement_reverse(settlement_id=s.pk, operator=operator, reason="test")
    account.refresh_from_db()
    assert account.balance == D("140.00")


# --- Clearing by scheme and fund ---------------------------------------------------------------------------


def test_clearing_statements_split_by_scheme_and_fund():
    """Two Chengdu people settle at the same Beijing hospital this month: an employee's general outpatient
    visit paid partly from the personal account, and a low-income resident's (category low-income, assistance
    70 %) outpatient visit. Clearing makes one statement per scheme, each fund in its own column.

      employee ¥600: basic (600 − 200) × 50 % = 200.00; share 400.00, account 400.00 (balance 500)
      resident ¥600: basic (600 − 200) × 50 % = 200.00; burden 400.00 (no critical illness);
                     assistance 400 × 70 % = 280.00; person pays 120.00
      employee statement: basic 200.00, funds 200.00, account 400.00
      resident statement: basic 200.00, assistance 280.00, funds 480.00
      the direction owes 200 + 400 + 480 = 1,080.00 (less what Sichuan prepaid Beijing: 1,000.00 → 80.00)
    """
    from django.contrib.auth import get_user_model

    from settlement.models import ClearingStatement, PersonalAccount, Prepayment
    from settlement.selectors import owed_for_direction, prepaid_for
    from settlement.services import clearing_build, clearing_export

    f.policy()
    f.policy(scheme=Scheme.RESIDENT)
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    employee = person_factory()
    PersonalAccount.objects.create(person=employee, balance=D("500.00"))
    resident = person_factory(scheme=Scheme.RESIDENT, assistance_category=AssistanceCategory.LOW_INCOME)
    operator, _key = f.counter()
    for person, agreed in ((employee, True), (resident, False)):
        f.filed(person)
        settlement_create(
            operator=operator,
            use_id=f.consumed_use(person, operator),
            visit_type="general_outpatient",
            visit_date=today(),
            acct_used_flag=agreed,
            items=f.items(("XA10BA02", 1, "600.00")),
        )
    Prepayment.objects.create(
        payer_province_id="510000",
        receiver_province_id="110000",
        month=today().replace(day=1),
        amount=D("1000.00"),
        created_by=get_user_model().objects.filter(is_superuser=True).first(),
    )

    clearing_build(month=today())

    statements = {s.scheme: s for s in ClearingStatement.objects.filter(month=today().replace(day=1))}
    assert set(statements) == {"employee", "resident"}
    e, r = statements["employee"], statements["resident"]
    assert (e.basic_fund, e.assistance_fund, e.fund_total, e.account_pay, e.person_pays) == (
        D("200.00"),
        D("0.00"),
        D("200.00"),
        D("400.00"),
        D("400.00"),
    )
    assert (r.basic_fund, r.assistance_fund, r.fund_total, r.account_pay, r.person_pays) == (
        D("200.00"),
        D("280.00"),
        D("480.00"),
        D("0.00"),
        D("120.00"),
    )
    assert owed_for_direction(statement=e) == owed_for_direction(statement=r) == D("1080.00")
    assert owed_for_direction(statement=e) - prepaid_for(statement=e) == D("80.00")
    csv_text = clearing_export(statements=[e, r])
    header, *rows = csv_text.splitlines()
    assert header.split(",")[:3] == ["month", "insured_province", "treatment_province"]
    assert "scheme" in header and "account_pay" in header and "large_amount_fund" in header
    totals = [row.split(",") for row in rows if ",TOTAL," in row]
    assert [(t[3], t[-2]) for t in totals] == [("employee", "400.00"), ("resident", "0.00")]
