"""The outpatient chain through the national interface, as a HIS drives it, and the same bill through our API."""

from decimal import Decimal as D

import pytest

from ecode.models import CodeEvent
from filing.dates import today
from settlement.models import Settlement
from tests.his.client import HisClient
from tests.his.helpers import ITEMS, ecode_token, fee_input, settle_input, visit_input, world
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

MONEY = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
)


def ok(answer):
    body, status = answer
    assert status == 200 and body["infcode"] == 0, body
    assert len(body["inf_refmsgid"]) <= 30
    assert len(body["refmsg_time"]) == 17 and body["refmsg_time"].isdigit()
    assert len(body["respond_time"]) == 17 and body["respond_time"].isdigit()
    assert body["err_msg"] is None
    return body["output"]


def refused(answer, code, status=200):
    body, got = answer
    assert got == status, body
    assert body["infcode"] == -1 and body["output"] is None, body
    assert body["err_msg"].startswith(f"[{code}] "), body["err_msg"]
    assert set(body) == {"infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"}
    return body["err_msg"]


def assert_identities(setlinfo):
    s = {k: setlinfo[k] for k in MONEY}
    assert all(v == v.quantize(D("0.01")) for v in s.values())
    parts = s["fulamt_ownpay_amt"] + s["overlmt_selfpay"] + s["preselfpay_amt"] + s["inscp_scp_amt"]
    assert s["medfee_sumamt"] == parts == s["fund_pay_sumamt"] + s["psn_part_amt"] + s["hosp_part_amt"]
    funds = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")
    assert s["fund_pay_sumamt"] == sum(s[k] for k in funds)
    assert s["psn_part_amt"] == s["acct_pay"] + s["psn_cash_pay"]


@pytest.fixture
def his(client):
    person, operator, key, terminal, secret = world()
    his = HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)
    return his, person, operator, key


def register(his, person):
    """9001 → 1101 → 2201 → 2203 → 2204; the visit's id, the person's psn_no and the 2204 answers."""
    his.sign_no = ok(his.call("9001", {"signIn": {"opter_no": "0007", "mac": "", "ip": "10.0.0.8"}}))[
        "signinoutb"
    ]["sign_no"]
    token = ecode_token(person)
    info = ok(
        his.call(
            "1101",
            {
                "data": {
                    "mdtrt_cert_type": "01",
                    "mdtrt_cert_no": token,
                    "card_sn": "",
                    "begntime": "",
                    "psn_cert_type": "01",
                    "certno": "",
                    "psn_name": "",
                }
            },
        )
    )
    psn_no = info["baseinfo"]["psn_no"]
    his.insuplc_admdvs = info["insuinfo"][0]["insuplc_admdvs"]
    mdtrt_id = ok(his.call("2201", visit_input(psn_no, token)))["data"]["mdtrt_id"]
    ok(
        his.call(
            "2203",
            {
                "mdtrtinfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "med_type": "11",
                    "begntime": today().isoformat() + " 08:30:00",
                    "main_cond_dscr": "",
                    "dise_codg": "J06.900",
                    "dise_name": "急性上呼吸道感染",
                },
                "diseinfo": [
                    {
                        "diag_type": "1",
                        "diag_srt_no": "1",
                        "diag_code": "J06.900",
                        "diag_name": "急性上呼吸道感染",
                        "diag_dept": "内科",
                        "dise_dor_no": "D001",
                        "dise_dor_name": "王医生",
                        "diag_time": today().isoformat() + " 08:35:00",
                        "vali_flag": "1",
                    }
                ],
            },
        )
    )
    result = ok(his.call("2204", fee_input(mdtrt_id, psn_no)))["result"]
    return token, psn_no, mdtrt_id, result


def test_outpatient_chain_settles_as_the_api_does_to_the_fen(his, counter_client):
    his, person, operator, key = his
    token, psn_no, mdtrt_id, result = register(his, person)
    assert psn_no != person.id_number and len(psn_no) <= 30
    assert [r["chrgitm_lv"] for r in result] == ["01", "02", "03"]
    assert [r["selfpay_prop"] for r in result] == [D("0"), D("0.10"), D("1")]
    assert [r["fulamt_ownpay_amt"] for r in result] == [D("0.00"), D("0.00"), D("12.30")]
    assert [r["preselfpay_amt"] for r in result] == [D("0.00"), D("7.00"), D("0.00")]
    assert [r["inscp_scp_amt"] for r in result] == [D("500.00"), D("63.00"), D("0.00")]

    split = {k: sum(r[k] for r in result) for k in ("fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt")}
    preview = ok(his.call("2206", settle_input(psn_no, mdtrt_id, token, "582.30")))
    assert not Settlement.objects.exists()
    assert_identities(preview["setlinfo"])
    out = ok(
        his.call("2207", settle_input(psn_no, mdtrt_id, token, "582.30", overlmt_selfpay="0.00", **split))
    )
    setlinfo = out["setlinfo"]
    assert_identities(setlinfo)
    assert setlinfo["medfee_sumamt"] == D("582.30") and setlinfo["hifp_pay"] == D("181.50")
    assert setlinfo["act_pay_dedc"] == D("200.00") and setlinfo["psn_cash_pay"] == D("400.80")
    assert setlinfo["clr_optins"] == person.insured_region_id and setlinfo["clr_type"] == "11"
    assert out["setldetail"] == [
        {
            "fund_pay_type": "310100",
            "inscp_scp_amt": D("563.00"),
            "crt_payb_lmt_amt": D("0.00"),
            "fund_payamt": D("181.50"),
            "fund_pay_type_name": "职工基本医疗保险统筹基金",
            "setl_proc_info": "",
        }
    ]
    assert {k: preview["setlinfo"][k] for k in MONEY} == {k: setlinfo[k] for k in MONEY}
    assert preview["setldetail"] == out["setldetail"]
    settlement = Settlement.objects.get(number=setlinfo["setl_id"])
    assert settlement.request_no == setlinfo["medins_setl_id"]

    query = {"data": {"psn_no": psn_no, "setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id}}
    assert ok(his.call("5203", query))["setlinfo"]["refd_setl_flag"] == "0"
    cancel = ok(his.call("2208", query))["setlinfo"]
    assert cancel["medfee_sumamt"] == D("-582.30") and cancel["pdn_cash_pay"] == D("-400.80")
    assert ok(his.call("5203", query))["setlinfo"]["refd_setl_flag"] == "1"
    reversed_ = counter_client(key).get(f"/api/v1/settlements/{settlement.pk}").json()
    assert reversed_["status"] == "reversed"

    # The same bill through POST /api/v1/settlements/ (the reversal gave the year's deductible back).
    api = (
        counter_client(key)
        .post(
            "/api/v1/settlements/",
            {
                "use_id": f.consumed_use(person, operator),
                "visit_type": "general_outpatient",
                "visit_date": today().isoformat(),
                "items": [{"code": c, "quantity": q, "unit_price": p, "name": n} for c, n, q, p in ITEMS],
            },
            format="json",
        )
        .json()
    )
    assert D(api["total"]) == setlinfo["medfee_sumamt"]
    assert D(api["self_paid"]) == setlinfo["fulamt_ownpay_amt"]
    assert D(api["first_share"]) == setlinfo["preselfpay_amt"]
    assert D(api["eligible"]) == setlinfo["inscp_scp_amt"]
    assert D(api["deductible"]) == setlinfo["act_pay_dedc"]
    assert D(api["basic_fund"]) == setlinfo["hifp_pay"]
    assert D(api["critical_fund"]) == setlinfo["hifob_pay"] + setlinfo["hifmi_pay"]
    assert D(api["assistance_fund"]) == setlinfo["maf_pay"]
    assert D(api["person_pays"]) == setlinfo["psn_part_amt"]


def test_registration_uses_the_code_once_and_later_steps_never_check_it_again(his):
    his, person, operator, key = his
    token, psn_no, mdtrt_id, _result = register(his, person)
    assert CodeEvent.objects.filter(person=person, kind="consume", result="ok").count() == 1
    assert CodeEvent.objects.filter(person=person, kind="verify").count() == 1  # the 1101 check
    refused(his.call("2201", visit_input(psn_no, token)), "already_used")
    out = ok(his.call("2207", settle_input(psn_no, mdtrt_id, token, D("582.30"))))
    assert out["setlinfo"]["medfee_sumamt"] == D("582.30")


def test_person_without_filing_here_is_refused_at_registration_with_nothing_saved(client):
    person, operator, key, terminal, secret = world(filed=False)
    his = HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)
    token = ecode_token(person)
    psn_no = ok(his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}}))["baseinfo"][
        "psn_no"
    ]
    before = CodeEvent.objects.count()
    refused(his.call("2201", visit_input(psn_no, token)), "no_filing_here")
    assert CodeEvent.objects.count() == before
    from his.models import HisVisit

    assert not HisVisit.objects.exists()
