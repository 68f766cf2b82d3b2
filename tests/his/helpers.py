"""Set-up for the HIS tests: a policy, a catalogue, a filed person with an e-code, a counter with a gateway
credential; all through the owning apps' services."""

from __future__ import annotations

from ecode.models import Credential
from ecode.services import credential_activate, signing_key_ensure, token_issue
from filing.dates import today
from his.services import his_terminal_create
from tests.factories import person_factory
from tests.settlement import factories as f

ITEMS = [
    # (code, name, cnt, pric): 甲 500.00, 乙 70.00 (first share 7.00), not listed 12.30
    ("XJ01CAA040A001", "阿莫西林胶囊", "20", "25.00"),
    ("XC10AAA105A001", "阿托伐他汀钙片", "2", "35.00"),
    ("NOT-IN-CATALOGUE", "自费项目", "1", "12.30"),
]


def world(*, filed: bool = True):
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    person = person_factory()
    if filed:
        f.filed(person)
    operator, key = f.counter()
    terminal, secret = his_terminal_create(operator=operator, name="HIS 1")
    return person, operator, key, terminal, secret


def ecode_token(person) -> str:
    signing_key_ensure()
    credential = Credential.objects.filter(person=person).first() or credential_activate(
        person=person, actor=None
    )
    return token_issue(credential=credential).token


def visit_input(psn_no: str, token: str, *, insutype: str = "310") -> dict:
    return {
        "data": {
            "psn_no": psn_no,
            "insutype": insutype,
            "begntime": today().isoformat() + " 08:30:00",
            "mdtrt_cert_type": "01",
            "mdtrt_cert_no": token,
            "ipt_otp_no": "MZ0001",
            "atddr_no": "D001",
            "dr_name": "王医生",
            "dept_code": "0101",
            "dept_name": "内科",
            "caty": "A03",
        }
    }


def fee_input(mdtrt_id: str, psn_no: str, items=ITEMS, *, batch: str = "CB0001", first_sn: int = 1) -> dict:
    from decimal import Decimal

    return {
        "feedetail": [
            {
                "feedetl_sn": f"FD{n:04d}",
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": batch,
                "dise_codg": "",
                "rxno": "",
                "rx_circ_flag": "0",
                "fee_ocur_time": today().isoformat() + " 08:40:00",
                "med_list_codg": code,
                "medins_list_codg": f"H-{code}",
                "medins_list_name": name,
                "det_item_fee_sumamt": str((Decimal(cnt) * Decimal(pric)).quantize(Decimal("0.01"))),
                "cnt": cnt,
                "pric": pric,
                "bilg_dept_codg": "0101",
                "bilg_dept_name": "内科",
                "bilg_dr_codg": "D001",
                "bilg_dr_name": "王医生",
            }
            for n, (code, name, cnt, pric) in enumerate(items, first_sn)
        ]
    }


def settle_input(psn_no: str, mdtrt_id: str, token: str, medfee_sumamt, **amounts) -> dict:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "01",
            "mdtrt_cert_no": token,
            "med_type": "11",
            "medfee_sumamt": medfee_sumamt,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "CB0001",
            "insutype": "310",
            "acct_used_flag": "0",
            "invono": "",
            **amounts,
        }
    }
