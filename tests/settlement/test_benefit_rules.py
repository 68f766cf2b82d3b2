"""The benefit rules as people and staff meet them: identities of need in the admin (masked, dated), the
preferential terms edited on the policy, and the receipt and the person's settlement page explaining them."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import PersonIdentity, identities_on
from filing.dates import today
from reference.choices import Scheme
from settlement.models import Policy
from tests.factories import ReviewerFactory, person_factory
from tests.settlement import factories as f
from tests.settlement.test_worked_examples import _discharge, _preferential_setup

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def signed_in(user, language: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def helped():
    _preferential_setup()
    operator, _key = f.counter()
    person = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    f.identity(person, "extremely_poor")
    filing = f.filed(person, group="referral", start_date=today() - dt.timedelta(days=40))
    return _discharge(operator, person, filing), person, operator


def test_receipt_and_my_settlements_say_which_preferential_terms_applied(helped):
    s, person, operator = helped
    receipt = signed_in(operator).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "适用的待遇规则" in receipt
    assert "按困难群众大病保险倾斜政策（特困人员，国办发〔2021〕42号）" in receipt
    assert "起付线 ¥6000.00（一般为 ¥12000.00）" in receipt
    assert "各段报销比例提高 5 个百分点" in receipt and "不设年度最高支付限额" in receipt
    assert "大病保险支付 ¥27786.25" in receipt

    english = signed_in(operator, "en").get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "Preferential terms for people in need (Extremely poor (subsistence support)" in english
    assert "threshold ¥6000.00 instead of ¥12000.00" in english and "no annual cap" in english

    mine = signed_in(person.user).get("/settlements/").content.decode()
    assert "大病保险支付 ¥27786.25" in mine and 'data-rule="preferential_critical"' in mine


def test_no_rule_line_for_ordinary_terms():
    _preferential_setup()
    operator, _key = f.counter()
    person = person_factory(insured_region="130600", scheme=Scheme.RESIDENT)
    s = _discharge(
        operator, person, f.filed(person, group="referral", start_date=today() - dt.timedelta(days=5))
    )
    receipt = signed_in(operator).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "适用的待遇规则" not in receipt and "data-rule" not in receipt


def test_identities_are_dated_and_checked():
    person = person_factory()
    day = today()
    PersonIdentity.objects.create(person=person, kind="low_income", valid_from=day - dt.timedelta(days=9))
    PersonIdentity.objects.create(
        person=person,
        kind="poverty_risk",
        valid_from=day - dt.timedelta(days=30),
        valid_to=day - dt.timedelta(days=10),
    )
    assert identities_on(person, day) == {"low_income"}
    assert identities_on(person, day - dt.timedelta(days=15)) == {"poverty_risk"}
    assert identities_on(person_factory(), day) == frozenset()
    with transaction.atomic(), pytest.raises(IntegrityError):
        PersonIdentity.objects.create(
            person=person, kind="low_income", valid_from=day, valid_to=day - dt.timedelta(days=1)
        )


def test_admin_shows_identities_without_personal_data(admin_client):
    person = person_factory(name="李四海")
    f.identity(person, "extremely_poor", source="保定市民政局 2026-17")
    page = admin_client.get(f"/admin/accounts/insuredperson/{person.pk}/change/").content.decode()
    assert 'name="identities-TOTAL_FORMS"' in page and "保定市民政局 2026-17" in page
    assert "李四海" not in page and person.id_number not in page


def test_reviewer_edits_the_preferential_terms_as_checkboxes():
    policy = f.policy()
    reviewer = ReviewerFactory(region_code=policy.region_id)
    client = signed_in(reviewer)
    url = f"/admin/settlement/policy/{policy.pk}/change/"
    page = client.get(url).content.decode()
    assert 'type="checkbox" name="preferential_identities" value="poverty_risk"' in page
    assert page.count('name="preferential_identities"') == 4
    form = _form_data(page)
    form["preferential_identities"] = ["extremely_poor", "marginal"]
    form["preferential_threshold_factor"] = "0.40"
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert sorted(policy.preferential_identities) == ["extremely_poor", "marginal"]
    assert str(policy.preferential_threshold_factor) == "0.4000"


def test_national_defaults_on_a_new_policy():
    policy = f.policy()
    assert sorted(policy.preferential_identities) == ["extremely_poor", "low_income", "poverty_risk"]
    assert (str(policy.preferential_threshold_factor), str(policy.preferential_ratio_bonus)) == (
        "0.50",
        "0.05",
    )
    assert policy.preferential_uncapped
    policy.preferential_identities = ["nobody"]
    with pytest.raises(Exception) as exc:
        policy.full_clean()
    assert "preferential_identities" in exc.value.message_dict
    assert Policy.objects.filter(pk=policy.pk).exists()


def _form_data(html: str) -> dict:
    """The values a browser would post from the change form (inputs, checked boxes, selected options)."""
    import re
    from html import unescape

    data: dict = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        if not name:
            continue
        kind = (re.search(r'type="([^"]*)"', tag) or [None, "text"])[1]
        value = unescape((re.search(r'value="([^"]*)"', tag) or [None, ""])[1])
        if kind in ("checkbox", "radio"):
            if "checked" in tag:
                data.setdefault(name.group(1), []).append(value or "on")
        elif kind not in ("submit", "button", "file"):
            data[name.group(1)] = value
    for name, body in re.findall(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen[0] if chosen else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = unescape(body.strip())
    return data


def test_demo_people_in_need_hold_their_identities(settings):
    from core.demo import seed_demo

    settings.CELERY_TASK_ALWAYS_EAGER = True
    demo = seed_demo()
    assert identities_on(demo.persons_by_group["referral"], today()) == {"extremely_poor"}
    assert identities_on(demo.persons_by_group["resident"], today()) == {"low_income"}
    assert identities_on(demo.persons_by_group["retiree"], today()) == frozenset()
    from accounts.models import certified_diseases_on
    from settlement.models import DiseaseLimit

    assert certified_diseases_on(demo.persons_by_group["resident"], today()) == {"diabetes"}
    from settlement.selectors import personal_account_balance

    assert personal_account_balance(person=demo.persons_by_group["retiree"]) == D("3000.00")
    assert DiseaseLimit.objects.filter(policy__region_id="510100", disease="diabetes").exists()
    seed_demo()  # idempotent
    assert PersonIdentity.objects.count() == 2


def test_receipt_explains_the_temporary_filers_reduction():
    from settlement.services import settlement_create

    f.catalogue_item("331003012", "腹腔镜下阑尾切除术", "A")
    operator, _key = f.counter()
    bill = {
        "visit_type": "inpatient",
        "admission_date": today() - dt.timedelta(days=3),
        "discharge_date": today(),
        "items": f.items(("331003012", 1, "3000.00")),
    }
    policy = f.policy(temporary_terms="first_share", temporary_cut=D("0.20"))
    person = person_factory()
    f.filed(person, group="temporary")
    shared, _ = settlement_create(operator=operator, use_id=f.consumed_use(person, operator), **bill)
    receipt = signed_in(person.user).get(f"/settlements/{shared.pk}/receipt").content.decode()
    # 3,000.00 × 20 % = 600.00 first; (3,000 − 600 − 1,000) × 80 % = 1,120.00
    assert "临时外出就医人员先行自付" in receipt and "600.00" in receipt
    assert "按其他临时外出就医人员备案：先自付合规费用的 20%，即 ¥600.00" in receipt
    english = signed_in(person.user, "en").get(f"/settlements/{shared.pk}/receipt").content.decode()
    assert "Filed as Other temporary treatment: you first pay 20 % of the eligible amount, ¥600.00" in english

    policy.temporary_terms = "cut"
    policy.save()
    other = person_factory()
    f.filed(other, group="temporary")
    cut, _ = settlement_create(operator=operator, use_id=f.consumed_use(other, operator), **bill)
    assert cut.basic_fund == D("1200.00")  # (3,000 − 1,000) × (80 − 20) %
    receipt = signed_in(other.user).get(f"/settlements/{cut.pk}/receipt").content.decode()
    assert "基本医保报销比例降低 20 个百分点，为 60%" in receipt
    assert "临时外出就医人员先行自付" not in receipt


def test_counter_confirms_a_restricted_use_through_the_api_and_the_receipt_explains_the_standards(
    counter_client,
):
    f.policy()
    f.catalogue_item("C0101", "人工晶体", "A", category="consumable", max_price=D("1500.00"))
    f.catalogue_item("XB02BXT001", "重组人血小板生成素注射液", "B", restriction="限实体瘤化疗后血小板减少")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    body = {
        "use_id": f.consumed_use(person, operator),
        "visit_type": "general_outpatient",
        "visit_date": today().isoformat(),
        "items": [
            {"code": "C0101", "quantity": "1", "unit_price": "2380.00"},
            {"code": "XB02BXT001", "quantity": "1", "unit_price": "1000.00", "lmt_used_flag": True},
            {"code": "XB02BXT001", "quantity": "1", "unit_price": "1000.00"},
        ],
    }
    response = counter_client(key).post("/api/v1/settlements/", body, format="json")
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert [(line["self_pay_reason"], line["overlmt_selfpay"]) for line in answer["lines"]] == [
        ("over_price", "880.00"),
        ("", "0.00"),
        ("restricted_condition", "0.00"),
    ]
    assert answer["overlmt_selfpay"] == "880.00" and answer["self_paid"] == "1880.00"
    assert [r["rule"] for r in answer["rules"]] == ["over_price", "restricted_condition"]
    bad = dict(body, items=[{"code": "C0101", "quantity": "1", "unit_price": "1", "lmt_used_flag": "maybe"}])
    refused = counter_client(key).post("/api/v1/settlements/", bad, format="json")
    assert refused.status_code == 400 and refused.json()["code"]

    receipt = signed_in(person.user).get(answer["receipt_url"]).content.decode()
    assert "其中超出支付标准" in receipt and "超出支付标准 880.00" in receipt
    assert "第 1 行（C0101）价格高于医保支付标准，超出部分 ¥880.00 由个人支付。" in receipt
    assert "限定支付范围未确认" in receipt


def test_receipt_and_my_settlements_show_the_large_amount_cover():
    from settlement.services import settlement_create

    f.policy(annual_cap=D("1000.00"), large_amount_ratio=D("0.90"), large_amount_cap=D("5000.00"))
    f.catalogue_item("331003012", "腹腔镜下阑尾切除术", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    s, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        visit_type="inpatient",
        admission_date=today() - dt.timedelta(days=3),
        discharge_date=today(),
        items=f.items(("331003012", 1, "5000.00")),
    )
    # base 4,000 (deductible 1,000); basic 3,200 capped at 1,000; covered 1,000 ÷ 80 % = 1,250;
    # large-amount (4,000 − 1,250) × 90 % = 2,475.00
    assert (s.basic_fund, s.large_amount_fund) == (D("1000.00"), D("2475.00"))
    receipt = signed_in(operator).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "职工大额医疗费用补助" in receipt and "2475.00" in receipt
    assert "基本医保统筹基金已达年度最高支付限额 ¥1000.00" in receipt and "按 90% 支付：¥2475.00" in receipt
    mine = signed_in(person.user).get("/settlements/").content.decode()
    assert "大额医疗费用补助支付" in mine and "¥2475.00" in mine


def test_receipt_explains_medical_assistance_for_an_identity():
    from settlement.services import settlement_create

    f.policy(assistance={"extremely_poor": ("1.00", "100000.00", "500.00")})
    f.catalogue_item("331003012", "腹腔镜下阑尾切除术", "A")
    person = person_factory()
    f.identity(person, "extremely_poor")
    f.filed(person)
    operator, _key = f.counter()
    s, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        visit_type="inpatient",
        admission_date=today() - dt.timedelta(days=3),
        discharge_date=today(),
        items=f.items(("331003012", 1, "3000.00")),
    )
    # basic (3,000 − 1,000) × 80 % = 1,600; burden 1,400 (below the halved threshold of 7,500)
    # assistance (1,400 − 500) × 100 % = 900.00; the person pays the ¥500 assistance deductible
    assert (s.basic_fund, s.critical_fund, s.assistance_fund, s.person_pays) == (
        D("1600.00"),
        D("0.00"),
        D("900.00"),
        D("500.00"),
    )
    receipt = signed_in(person.user).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "医疗救助（特困人员，住院）：扣除救助起付线 ¥500.00 后" in receipt and "支付 ¥900.00" in receipt


def test_receipt_names_the_certified_disease_and_its_limit():
    from accounts.models import DiseaseCertification
    from settlement.models import DiseaseLimit
    from settlement.services import settlement_create

    policy = f.policy()
    DiseaseLimit.objects.create(policy=policy, disease="uraemia_dialysis", annual_limit=D("500.00"))
    f.catalogue_item("331100015", "血液透析", "A", category="service")
    person = person_factory()
    DiseaseCertification.objects.create(person=person, disease="uraemia_dialysis", valid_from=today())
    f.filed(person)
    operator, _key = f.counter()
    s, _ = settlement_create(
        operator=operator,
        use_id=f.consumed_use(person, operator),
        visit_type="chronic_outpatient",
        visit_date=today(),
        disease="uraemia_dialysis",
        items=f.items(("331100015", 3, "400.00")),
    )
    # (1,200 − 300) × 75 % = 675.00, limited to 500.00
    assert s.basic_fund == D("500.00")
    receipt = signed_in(person.user).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "门诊慢特病 · 尿毒症透析" in receipt
    assert "门诊慢特病尿毒症透析：该病种统筹基金年度限额 ¥500.00 已用完；统筹基金支付 ¥500.00。" in receipt


def test_receipt_explains_the_deductible_variants():
    from settlement.models import PolicyRate
    from settlement.services import settlement_create

    policy = f.policy(repeat_admission_factor=D("0.50"))
    PolicyRate.objects.filter(policy=policy, visit_type="inpatient", institution_level=3).update(
        retiree_deductible=D("800.00")
    )
    f.catalogue_item("331003012", "腹腔镜下阑尾切除术", "A", category="service")
    person = person_factory(retired=True)
    filing = f.filed(person, group="retiree")
    operator, _key = f.counter()
    for _ in range(2):
        s, _ = settlement_create(
            operator=operator,
            visit_type="inpatient",
            filing_id=filing.pk,
            id_number=person.id_number,
            admission_date=today() - dt.timedelta(days=3),
            discharge_date=today(),
            items=f.items(("331003012", 1, "3000.00")),
        )
    receipt = signed_in(person.user).get(f"/settlements/{s.pk}/receipt").content.decode()
    assert "起付线 ¥400.00：按退休人员起付线；本年度第二次及以后住院，按 50% 计。" in receipt


def test_account_balance_on_me_receipt_and_api(counter_client):
    from settlement.models import PersonalAccount

    f.policy()
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    person = person_factory(retired=True)
    PersonalAccount.objects.create(person=person, balance=D("500.00"))
    f.filed(person, group="retiree")
    operator, key = f.counter()
    assert "个人账户余额" in (me := signed_in(person.user).get("/me/").content.decode()) and "¥500.00" in me
    body = {
        "use_id": f.consumed_use(person, operator),
        "visit_type": "general_outpatient",
        "visit_date": today().isoformat(),
        "acct_used_flag": True,
        "items": [{"code": "XA10BA02", "quantity": "1", "unit_price": "600.00"}],
    }
    answer = counter_client(key).post("/api/v1/settlements/", body, format="json").json()
    assert (answer["person_pays"], answer["account_pay"], answer["cash_pay"]) == ("360.00", "360.00", "0.00")
    assert answer["account_balance_after"] == "140.00"
    assert [r["rule"] for r in answer["rules"]] == ["personal_account"]
    me = signed_in(person.user).get("/me/").content.decode()
    assert 'id="account-balance">¥140.00' in me
    receipt = signed_in(person.user).get(answer["receipt_url"]).content.decode()
    assert "其中个人账户支付" in receipt and "支付后余额 ¥140.00" in receipt
    mine = signed_in(person.user).get("/settlements/").content.decode()
    assert "其中个人账户支付" in mine
    # no account: the "me" page shows no balance line
    assert "个人账户余额" not in signed_in(person_factory().user).get("/me/").content.decode()
