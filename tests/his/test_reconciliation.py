"""3201: the institution's settlements of a period, from every channel, not reversed, balance or not."""

from decimal import Decimal as D

import pytest

from filing.dates import today
from settlement.services import ItemInput, settlement_create, settlement_reverse
from tests.his.client import HisClient
from tests.his.helpers import settle_input, world
from tests.his.test_outpatient import ok, refused, register
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def statement(his, person, **given):
    data = {
        "insutype": "310",
        "clr_type": "11",
        "setl_optins": person.insured_region_id,
        "stmt_begndate": today().isoformat(),
        "stmt_enddate": today().isoformat(),
        "medfee_sumamt": "0.00",
        "fund_pay_sumamt": "0.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 0,
        **given,
    }
    return ok(his.call("3201", {"data": data}))["stmtinfo"]


def test_reconciliation_counts_every_channel_and_not_reversals(client):
    person, operator, _key, terminal, secret = world()
    his = HisClient(client, fixmedins_code=operator.institution.code, paasid=terminal.paasid, secret=secret)
    token, psn_no, mdtrt_id, _result = register(his, person)
    via_his = ok(his.call("2207", settle_input(psn_no, mdtrt_id, token, "582.30")))["setlinfo"]
    # the API (counter) channel: one kept, one reversed
    kept, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=[ItemInput(code="XJ01CAA040A001", quantity=D("2"), unit_price=D("25.00"))],
    )
    gone, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=[ItemInput(code="XJ01CAA040A001", quantity=D("1"), unit_price=D("10.00"))],
    )
    settlement_reverse(settlement_id=gone.pk, operator=operator)

    total = via_his["medfee_sumamt"] + kept.total
    funds = via_his["fund_pay_sumamt"] + kept.fund_total
    balanced = statement(
        his, person, medfee_sumamt=str(total), fund_pay_sumamt=str(funds), fixmedins_setl_cnt=2
    )
    assert balanced["stmt_rslt"] == "0" and balanced["setl_optins"] == person.insured_region_id

    wrong = statement(
        his, person, medfee_sumamt=str(total + D("0.01")), fund_pay_sumamt=str(funds), fixmedins_setl_cnt="2"
    )
    assert wrong["stmt_rslt"] == "1"
    assert "medfee_sumamt" in wrong["stmt_rslt_dscr"] and "0.01" in wrong["stmt_rslt_dscr"]

    other_scheme = statement(his, person, insutype="390")
    assert other_scheme["stmt_rslt"] == "0"  # nothing of residents here
    refused(
        his.call(
            "3201",
            {
                "data": {
                    "insutype": "310",
                    "clr_type": "11",
                    "setl_optins": person.insured_region_id,
                    "stmt_begndate": "2026-13-01",
                    "stmt_enddate": "2026-12-01",
                    "medfee_sumamt": 0,
                    "fund_pay_sumamt": 0,
                    "acct_pay": 0,
                    "fixmedins_setl_cnt": 0,
                }
            },
        ),
        "invalid_field",
    )
