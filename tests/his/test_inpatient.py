"""The inpatient chain through the national interface, and the same stay through our API, to the fen."""

import datetime as dt
from decimal import Decimal as D

import pytest

from filing.dates import today
from settlement.models import Settlement
from tests.his.client import HisClient
from tests.his.helpers import ITEMS, ecode_token, fee_input, settle_input, world
from tests.his.test_outpatient import MONEY, assert_identities, ok, refused
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def his(client):
    person, operator, key, terminal, secret = world()
    return (
        HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret),
        person,
        operator,
        key,
    )


def admit(his, person, admitted: dt.date):
    token = ecode_token(person)
    psn_no = ok(his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token}}))["baseinfo"][
        "psn_no"
    ]
    out = ok(
        his.call(
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": psn_no,
                    "insutype": "310",
                    "coner_name": "",
                    "tel": "",
                    "begntime": f"{admitted.isoformat()} 09:00:00",
                    "mdtrt_cert_type": "01",
                    "mdtrt_cert_no": token,
                    "med_type": "21",
                    "ipt_no": "ZY0001",
                    "medrcdno": "",
                    "atddr_no": "D001",
                    "chfpdr_name": "王医生",
                    "adm_diag_dscr": "",
                    "adm_dept_codg": "0201",
                    "adm_dept_name": "外科",
                    "adm_bed": "12",
                    "dscg_maindiag_code": "K35.800",
                    "dscg_maindiag_name": "急性阑尾炎",
                },
                "diseinfo": [
                    {
                        "psn_no": psn_no,
                        "diag_type": "1",
                        "maindiag_flag": "1",
                        "diag_srt_no": "1",
                        "diag_code": "K35.800",
                        "diag_name": "急性阑尾炎",
                        "diag_time": "",
                    }
                ],
            },
        )
    )
    return token, psn_no, out["result"]["mdtrt_id"]


def test_inpatient_chain_settles_as_the_api_does_to_the_fen(his, counter_client):
    his, person, operator, key = his
    admitted, discharged = today() - dt.timedelta(days=3), today()
    token, psn_no, mdtrt_id = admit(his, person, admitted)
    upload = fee_input(mdtrt_id, psn_no)
    for row in upload["feedetail"]:
        row["med_type"] = "21"
        row["init_feedetl_sn"] = ""
    result = ok(his.call("2301", upload))["result"]
    assert [r["chrgitm_lv"] for r in result] == ["01", "02", "03"]

    settle = settle_input(psn_no, mdtrt_id, token, "582.30", mid_setl_flag="0")
    del settle["data"]["med_type"], settle["data"]["chrg_bchno"]
    refused(his.call("2303", settle), "not_discharged")
    ok(
        his.call(
            "2402",
            {
                "dscginfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": psn_no,
                    "endtime": f"{discharged} 10:00:00",
                    "dscg_way": "1",
                },
                "diseinfo": [],
            },
        )
    )
    preview = ok(his.call("2303", settle))["setlinfo"]
    assert not Settlement.objects.exists()
    out = ok(his.call("2304", settle))
    setlinfo = out["setlinfo"]
    assert_identities(setlinfo)
    assert {k: preview[k] for k in MONEY} == {k: setlinfo[k] for k in MONEY}
    assert setlinfo["clr_type"] == "21" and setlinfo["med_type"] == "21"
    settlement = Settlement.objects.get(number=setlinfo["setl_id"])
    assert (settlement.admission_date, settlement.discharge_date) == (admitted, discharged)

    query = {"data": {"psn_no": psn_no, "setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id}}
    ok(his.call("2305", query))
    assert ok(his.call("5203", query))["setlinfo"]["refd_setl_flag"] == "1"

    api = (
        counter_client(key)
        .post(
            "/api/v1/settlements/",
            {
                "use_id": f.consumed_use(person, operator),
                "visit_type": "inpatient",
                "admission_date": admitted.isoformat(),
                "discharge_date": discharged.isoformat(),
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


def test_admission_and_discharge_can_be_undone_before_settling(his):
    his, person, _operator, _key = his
    token, psn_no, mdtrt_id = admit(his, person, today())
    refused(his.call("2204", fee_input(mdtrt_id, psn_no)), "wrong_med_type")
    ok(
        his.call(
            "2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": f"{today()} 18:00:00"}}
        )
    )
    refused(
        his.call(
            "2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": f"{today()} 18:00:00"}}
        ),
        "already_discharged",
    )
    ok(his.call("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    ok(his.call("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
    refused(his.call("2301", fee_input(mdtrt_id, psn_no)), "visit_cancelled")


def test_admission_by_id_number_settles_by_filing_at_discharge(his):
    his, person, _operator, _key = his
    psn_no = ok(
        his.call(
            "1101",
            {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
        )
    )["baseinfo"]["psn_no"]
    admission = {
        "mdtrtinfo": {
            "psn_no": psn_no,
            "insutype": "310",
            "begntime": f"{today()} 07:00:00",
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person.id_number,
            "med_type": "21",
            "ipt_no": "ZY0002",
        },
        "diseinfo": [],
    }
    refused(
        his.call("2201", {"data": {**admission["mdtrtinfo"], "med_type": "11"}}), "cert_type_not_supported"
    )
    wrong = {"mdtrtinfo": {**admission["mdtrtinfo"], "mdtrt_cert_no": "11010519491231002X"}}
    refused(his.call("2401", wrong), "psn_no_mismatch")
    mdtrt_id = ok(his.call("2401", admission))["result"]["mdtrt_id"]
    upload = fee_input(mdtrt_id, psn_no)
    ok(his.call("2301", upload))
    ok(
        his.call(
            "2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "endtime": f"{today()} 18:00:00"}}
        )
    )
    settle = settle_input(psn_no, mdtrt_id, "", "582.30", mid_setl_flag="0", mdtrt_cert_type="02")
    settle["data"]["med_type"] = "21"
    setlinfo = ok(his.call("2304", settle))["setlinfo"]
    assert_identities(setlinfo)
    settlement = Settlement.objects.get(number=setlinfo["setl_id"])
    assert settlement.code_event_id is None and settlement.filing.person_id == person.pk
