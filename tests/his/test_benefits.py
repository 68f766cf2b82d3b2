"""The benefit rules through the national interface: large-amount cover, the personal account, payment standards
and restricted use, preferential critical-illness terms and assistance. Each bill is settled by the HIS chain
(2204 → 2206 → 2207), cancelled (2208) and settled again through POST /api/v1/settlements/: the two answers agree
to the fen, field by field, and the interface's identities hold on every answer."""

import datetime as dt
from decimal import Decimal as D

import pytest

from filing.dates import today
from reference.choices import Scheme
from settlement.models import PersonalAccount, Settlement
from tests.factories import person_factory
from tests.his.client import HisClient
from tests.his.helpers import ecode_token, fee_input, settle_input, visit_input
from tests.his.test_inpatient import admit
from tests.his.test_outpatient import assert_identities, ok, refused
from tests.his.test_reconciliation import statement
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def his_of(client, operator):
    from his.services import his_terminal_create

    terminal, secret = his_terminal_create(operator=operator, name="HIS 1")
    return HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)


def person_info(his, token):
    data = {
        "mdtrt_cert_type": "01",
        "mdtrt_cert_no": token,
        "psn_cert_type": "01",
        "certno": "",
        "psn_name": "",
    }
    info = ok(his.call("1101", {"data": data}))
    his.insuplc_admdvs = info["insuinfo"][0]["insuplc_admdvs"]
    return info


def his_settle(his, person, rows, *, insutype="310", acct_used_flag="0", lmt=(), med_type="11", disease=""):
    """1101 → 2201 → 2203 → 2204 (`lmt`: the rows whose restricted use the counter confirms) → 2206 → 2207."""
    token = ecode_token(person)
    info = person_info(his, token)
    psn_no = info["baseinfo"]["psn_no"]
    mdtrt_id = ok(his.call("2201", visit_input(psn_no, token, insutype=insutype)))["data"]["mdtrt_id"]
    mdtrtinfo = {
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "med_type": med_type,
        "begntime": today().isoformat() + " 08:30:00",
        "dise_codg": "",
        "dise_name": "",
        "opsp_dise_code": disease,
    }
    ok(his.call("2203", {"mdtrtinfo": mdtrtinfo, "diseinfo": []}))
    fees = fee_input(mdtrt_id, psn_no, [(code, code, q, p) for code, q, p in rows])
    for n, row in enumerate(fees["feedetail"]):
        row["lmt_used_flag"] = "1" if n in lmt else "0"
    result = ok(his.call("2204", fees))["result"]
    total = str(sum((r["det_item_fee_sumamt"] for r in result), D("0.00")))
    split = {
        k: str(sum((r[k] for r in result), D("0.00")))
        for k in ("fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt")
    }
    split["overlmt_selfpay"] = str(sum((r["overlmt_amt"] for r in result), D("0.00")))
    request = settle_input(psn_no, mdtrt_id, token, total, acct_used_flag=acct_used_flag, **split)
    request["data"].update(insutype=insutype, med_type=med_type)
    preview = ok(his.call("2206", request))
    assert not Settlement.objects.filter(number=preview["setlinfo"]["setl_id"] or "-").exists()
    settled = ok(his.call("2207", request))
    for answer in (preview, settled):
        assert_identities(answer["setlinfo"])
    assert preview["setldetail"] == settled["setldetail"]
    assert {
        k: v for k, v in preview["setlinfo"].items() if k not in ("setl_id", "setl_time", "medins_setl_id")
    } == {k: v for k, v in settled["setlinfo"].items() if k not in ("setl_id", "setl_time", "medins_setl_id")}
    query = {"data": {"psn_no": psn_no, "setl_id": settled["setlinfo"]["setl_id"], "mdtrt_id": mdtrt_id}}
    shown = ok(his.call("5203", query))
    shown["setlinfo"]["psn_part_amt"] = shown["setlinfo"].pop("psn_pay")
    shown["setlinfo"]["psn_cash_pay"] = shown["setlinfo"].pop("cash_payamt")
    assert_identities(shown["setlinfo"])
    assert shown["setldetail"] == settled["setldetail"]
    return info, result, settled, query


def api_settle(counter_client, key, person, operator, rows, *, lmt=(), acct_used_flag=False, disease=""):
    body = {
        "use_id": f.consumed_use(person, operator),
        "visit_type": "chronic_outpatient" if disease else "general_outpatient",
        "visit_date": today().isoformat(),
        "acct_used_flag": acct_used_flag,
        "items": [
            {"code": c, "quantity": q, "unit_price": p, "name": c, "lmt_used_flag": n in lmt}
            for n, (c, q, p) in enumerate(rows)
        ],
    }
    if disease:
        body["disease"] = disease
    response = counter_client(key).post("/api/v1/settlements/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def assert_same(setlinfo, result, api, *, scheme):
    """The 2207 answer is the API's settlement, field by field, to the fen."""
    money = [
        "total",
        "self_paid",
        "overlmt_selfpay",
        "first_share",
        "eligible",
        "deductible",
        "basic_fund",
        "large_amount_fund",
        "critical_fund",
        "assistance_fund",
        "fund_total",
        "person_pays",
        "account_pay",
        "cash_pay",
        "account_balance_after",
    ]
    d = {k: D(api[k]) if api[k] is not None else None for k in money}
    employee = scheme == Scheme.EMPLOYEE
    expected = {
        "medfee_sumamt": d["total"],
        "fulamt_ownpay_amt": d["self_paid"] - d["overlmt_selfpay"],
        "overlmt_selfpay": d["overlmt_selfpay"],
        "preselfpay_amt": d["first_share"],
        "inscp_scp_amt": d["eligible"],
        "act_pay_dedc": d["deductible"],
        "hifp_pay": d["basic_fund"],
        "hifob_pay": d["large_amount_fund"] + (d["critical_fund"] if employee else 0),
        "hifmi_pay": D("0.00") if employee else d["critical_fund"],
        "maf_pay": d["assistance_fund"],
        "fund_pay_sumamt": d["fund_total"],
        "psn_part_amt": d["person_pays"],
        "acct_pay": d["account_pay"],
        "psn_cash_pay": d["cash_pay"],
        "hosp_part_amt": D("0.00"),
        "balc": d["account_balance_after"] if d["account_balance_after"] is not None else D("0.00"),
    }
    assert {k: setlinfo[k] for k in expected} == expected
    lines = api["lines"]
    assert [r["overlmt_amt"] for r in result] == [D(line["overlmt_selfpay"]) for line in lines]
    assert [r["fulamt_ownpay_amt"] + r["overlmt_amt"] for r in result] == [
        D(line["self_paid"]) for line in lines
    ]
    assert [r["inscp_scp_amt"] for r in result] == [D(line["eligible"]) for line in lines]


def detail(out):
    return {row["fund_pay_type"]: row["fund_payamt"] for row in out["setldetail"]}


def test_employee_with_large_amount_cover_reached(client, counter_client):
    """Employee, level-3 general outpatient (deductible 200, ratio 50 %), basic annual cap ¥100: the basic fund
    pays 100.00, the large-amount cover 90 % of (363 − 100 ÷ 50 %) = 146.70 (hifob_pay, 330100)."""
    f.policy(annual_cap=D("100.00"), large_amount_ratio=D("0.90"), large_amount_cap=D("40000.00"))
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    his = his_of(client, operator)
    rows = [("XJ01CAA040A001", "20", "25.00"), ("XC10AAA105A001", "2", "35.00"), ("SELF-PAID", "1", "12.30")]

    _info, result, out, query = his_settle(his, person, rows)
    setlinfo = out["setlinfo"]
    assert (setlinfo["hifp_pay"], setlinfo["hifob_pay"], setlinfo["fund_pay_sumamt"]) == (
        D("100.00"),
        D("146.70"),
        D("246.70"),
    )
    assert setlinfo["psn_cash_pay"] == D("335.60") and setlinfo["acct_pay"] == D("0.00")
    assert detail(out) == {"310100": D("100.00"), "330100": D("146.70")}
    cancel = ok(his.call("2208", query))
    assert_identities({**cancel["setlinfo"], "psn_cash_pay": cancel["setlinfo"]["pdn_cash_pay"]})
    assert cancel["setlinfo"]["hifob_pay"] == D("-146.70")

    api = api_settle(counter_client, key, person, operator, rows)
    assert_same(setlinfo, result, api, scheme=Scheme.EMPLOYEE)
    # 3201 counts the large-amount cover among the funds (the HIS settlement was cancelled).
    balanced = {
        "medfee_sumamt": "582.30",
        "fund_pay_sumamt": "246.70",
        "acct_pay": "0",
        "fixmedins_setl_cnt": 1,
    }
    assert statement(his, person, **balanced)["stmt_rslt"] == "0"
    assert statement(his, person, **{**balanced, "fund_pay_sumamt": "100.00"})["stmt_rslt"] == "1"


def test_employee_pays_from_the_personal_account_when_the_his_says_so(client, counter_client):
    """A retired employee with ¥300.00 in the account (retirees' ratio 60 %): ¥600.00 → basic 240.00, share
    360.00: the account pays 300.00 (balance 0.00), cash 60.00; 310200 shows the account's line."""
    f.policy()
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    person = person_factory(retired=True)
    PersonalAccount.objects.create(person=person, balance=D("300.00"))
    f.filed(person, group="retiree")
    operator, key = f.counter()
    his = his_of(client, operator)
    rows = [("XA10BA02", "1", "600.00")]

    info, result, out, query = his_settle(his, person, rows, acct_used_flag="1")
    assert info["insuinfo"][0]["balc"] == D("300.00")
    setlinfo = out["setlinfo"]
    assert (setlinfo["psn_part_amt"], setlinfo["acct_pay"], setlinfo["psn_cash_pay"], setlinfo["balc"]) == (
        D("360.00"),
        D("300.00"),
        D("60.00"),
        D("0.00"),
    )
    assert detail(out) == {"310100": D("240.00"), "310200": D("300.00")}
    assert PersonalAccount.objects.get(person=person).balance == D("0.00")
    cancel = ok(his.call("2208", query))["setlinfo"]
    assert (cancel["acct_pay"], cancel["balc"]) == (D("-300.00"), D("300.00"))
    assert PersonalAccount.objects.get(person=person).balance == D("300.00")

    api = api_settle(counter_client, key, person, operator, rows, acct_used_flag=True)
    assert_same(setlinfo, result, api, scheme=Scheme.EMPLOYEE)

    # Without the agreement the account is not touched.
    _info, _result, plain, _query = his_settle(his, person, rows, acct_used_flag="0")
    assert plain["setlinfo"]["acct_pay"] == D("0.00") and "310200" not in detail(plain)
    # 3201: the account payments of the period's settlements (the API's 300.00; the last paid none).
    funds = D(api["fund_total"]) + plain["setlinfo"]["fund_pay_sumamt"]  # 240.00 + 360.00 (deductible met)
    assert funds == D("600.00")
    balanced = {"medfee_sumamt": "1200.00", "fund_pay_sumamt": str(funds), "acct_pay": "300.00"}
    assert statement(his, person, fixmedins_setl_cnt=2, **balanced)["stmt_rslt"] == "0"
    assert statement(his, person, fixmedins_setl_cnt=2, **{**balanced, "acct_pay": "0"})["stmt_rslt"] == "1"

    # The personal account does not pay for a stay: the settlement's rule, answered as such.
    _token, psn_no, mdtrt_id = admit(his, person, today() - dt.timedelta(days=1))
    upload = fee_input(mdtrt_id, psn_no, [("XA10BA02", "二甲双胍缓释片", "1", "100.00")])
    ok(his.call("2301", upload))
    discharge = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": f"{today()} 10:00:00", "dscg_way": "1"}
    ok(his.call("2402", {"dscginfo": discharge, "diseinfo": []}))
    stay = settle_input(psn_no, mdtrt_id, "", "100.00", mid_setl_flag="0", acct_used_flag="1")
    del stay["data"]["med_type"], stay["data"]["chrg_bchno"]
    count = Settlement.objects.count()
    refused(his.call("2303", stay), "account_not_for_inpatient")
    refused(his.call("2304", stay), "account_not_for_inpatient")
    assert Settlement.objects.count() == count
    stay["data"]["acct_used_flag"] = "0"
    assert ok(his.call("2304", stay))["setlinfo"]["acct_pay"] == D("0.00")


def test_item_above_its_payment_standard_and_restricted_use(client, counter_client):
    """人工晶体 2,380.00 with a payment standard of 1,500.00: 880.00 over the limit (overlmt_amt,
    overlmt_selfpay); 人血白蛋白 restricted and confirmed by lmt_used_flag: in scope; the same restricted item
    unconfirmed is wholly self-paid."""
    f.policy()
    f.catalogue_item("C0101", "人工晶体", "A", category="consumable", max_price=D("1500.00"))
    f.catalogue_item("XB05AAR044B002", "人血白蛋白", "B", restriction="限抢救或重症患者")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    his = his_of(client, operator)
    rows = [("C0101", "1", "2380.00"), ("XB05AAR044B002", "2", "450.00"), ("XB05AAR044B002", "1", "450.00")]

    _info, result, out, query = his_settle(his, person, rows, lmt=(1,))
    assert [r["overlmt_amt"] for r in result] == [D("880.00"), D("0.00"), D("0.00")]
    assert [r["pric_uplmt_amt"] for r in result] == [D("1500.00"), D("0.00"), D("0.00")]
    assert [r["fulamt_ownpay_amt"] for r in result] == [D("0.00"), D("0.00"), D("450.00")]
    assert [r["inscp_scp_amt"] for r in result] == [D("1500.00"), D("810.00"), D("0.00")]
    assert [r["lmt_used_flag"] for r in result] == ["0", "1", "0"]
    assert [r["selfpay_prop"] for r in result] == [D("0"), D("0.10"), D("1")]
    setlinfo = out["setlinfo"]
    assert (setlinfo["overlmt_selfpay"], setlinfo["fulamt_ownpay_amt"]) == (D("880.00"), D("450.00"))
    ok(his.call("2208", query))

    api = api_settle(counter_client, key, person, operator, rows, lmt=(1,))
    assert_same(setlinfo, result, api, scheme=Scheme.EMPLOYEE)


def test_2207_refuses_an_over_limit_amount_that_is_not_ours(client):
    f.policy()
    f.catalogue_item("C0101", "人工晶体", "A", category="consumable", max_price=D("1500.00"))
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    his = his_of(client, operator)
    token = ecode_token(person)
    psn_no = person_info(his, token)["baseinfo"]["psn_no"]
    mdtrt_id = ok(his.call("2201", visit_input(psn_no, token)))["data"]["mdtrt_id"]
    ok(his.call("2204", fee_input(mdtrt_id, psn_no, [("C0101", "人工晶体", "1", "2380.00")])))
    request = settle_input(psn_no, mdtrt_id, token, "2380.00", overlmt_selfpay="0.00")
    refused(his.call("2207", request), "split_mismatch")
    assert not Settlement.objects.exists()


def test_low_income_resident_with_preferential_terms_and_assistance(client, counter_client):
    """A low-income Chengdu resident (identity from the civil-affairs department, valid this year): critical
    illness from the halved threshold (hifmi_pay, 390200) and medical assistance (maf_pay, 610100); 1101 lists
    the identity with its dates."""
    f.policy(scheme=Scheme.RESIDENT, critical_threshold=D("4000.00"))
    f.catalogue_item("XL01XC03", "注射用曲妥珠单抗", "A")
    person = person_factory(scheme=Scheme.RESIDENT, assistance_category="low_income")
    f.identity(person, "low_income")
    f.filed(person)
    operator, key = f.counter()
    his = his_of(client, operator)
    rows = [("XL01XC03", "4", "2500.00")]

    info, result, out, query = his_settle(his, person, rows, insutype="390")
    year = today().year
    assert info["idetinfo"] == [
        {
            "psn_idet_type": "21",
            "psn_type_lv": "",
            "memo": "保定市民政局",
            "begntime": f"{year}-01-01 00:00:00",
            "endtime": None,
        }
    ]
    assert info["insuinfo"][0]["balc"] == D("0.00")
    setlinfo = out["setlinfo"]
    assert setlinfo["hifmi_pay"] > 0 and setlinfo["maf_pay"] > 0 and setlinfo["hifob_pay"] == D("0.00")
    assert list(detail(out)) == ["390100", "390200", "610100"]
    assert detail(out) == {
        "390100": setlinfo["hifp_pay"],
        "390200": setlinfo["hifmi_pay"],
        "610100": setlinfo["maf_pay"],
    }
    settlement = Settlement.objects.get(number=setlinfo["setl_id"])
    assert settlement.details["rules"]["preferential_critical"]
    ok(his.call("2208", query))

    api = api_settle(counter_client, key, person, operator, rows)
    assert_same(setlinfo, result, api, scheme=Scheme.RESIDENT)


def test_chronic_disease_visit_passes_the_certified_disease(client):
    """med_type 14 with opsp_dise_code: an unknown code is refused at 2203; a disease the person is not
    certified for is refused by the settlement's own rule at 2206."""
    f.policy()
    f.catalogue_item("XA10BA02", "二甲双胍缓释片", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    his = his_of(client, operator)
    token = ecode_token(person)
    psn_no = person_info(his, token)["baseinfo"]["psn_no"]
    mdtrt_id = ok(his.call("2201", visit_input(psn_no, token)))["data"]["mdtrt_id"]
    info = {
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "med_type": "14",
        "begntime": today().isoformat() + " 08:30:00",
    }
    refused(his.call("2203", {"mdtrtinfo": {**info, "opsp_dise_code": "M99999"}}), "invalid_field")
    ok(his.call("2203", {"mdtrtinfo": {**info, "opsp_dise_code": "diabetes"}}))
    ok(his.call("2204", fee_input(mdtrt_id, psn_no, [("XA10BA02", "二甲双胍缓释片", "1", "200.00")])))
    request = settle_input(psn_no, mdtrt_id, token, "200.00")
    request["data"]["med_type"] = "14"
    refused(his.call("2206", request), "disease_not_certified")
