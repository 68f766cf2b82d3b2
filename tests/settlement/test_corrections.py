"""Corrections after the settlement day (a refund of part of a bill): re-priced by the calculator on the terms
recorded on the settlement, given back to the funds, the accumulators and the personal account, and carried by
the next clearing statement as an adjustment so that a confirmed statement never changes."""

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from django.utils import timezone

from core.audit import ACTION_WORDS
from core.errors import ServiceError
from filing.dates import today
from notifications.models import Notification
from settlement.corrections import settlement_correct
from settlement.models import (
    Accumulator,
    PersonalAccount,
    Policy,
    Settlement,
    SettlementCorrection,
)
from settlement.services import clearing_build, clearing_confirm, clearing_export, settlement_create
from tests.factories import ReviewerFactory, person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

AMOX, ATOR, SPECIAL = "XJ01CAA040A001", "XC10AAA105A001", "250203099"
FUNDS = ("total", "basic_fund", "large_amount_fund", "critical_fund", "assistance_fund", "person_pays")
ACCUMULATED = (
    "deductible_general_outpatient",
    "basic_fund_paid",
    "large_amount_paid",
    "critical_fund_paid",
    "assistance_paid",
    "general_outpatient_basic_paid",
    "burden",
)


@pytest.fixture
def setup():
    f.policy()
    f.catalogue_item(AMOX, "阿莫西林胶囊", "A")
    f.catalogue_item(ATOR, "阿托伐他汀钙片", "B")
    f.catalogue_item(SPECIAL, "特需病房床位费差价", "C", category="service")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    return person, operator, key


def settle(person, operator, *rows, days_ago=1, acct_used_flag=False, request_no=""):
    """A settlement made `days_ago` days before today (settled today, then dated back)."""
    s, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        items=f.items(*rows),
        acct_used_flag=acct_used_flag,
        request_no=request_no,
    )
    Settlement.objects.filter(pk=s.pk).update(settled_at=timezone.now() - dt.timedelta(days=days_ago))
    return Settlement.objects.get(pk=s.pk)


def acc_of(person):
    return Accumulator.objects.get(person=person, year=today().year)


def test_worked_example_refund_of_six_boxes(setup):
    """By hand (employee, general outpatient, level-3 hospital: deductible 200.00, ratio 50 %; 乙 first share 10 %):

    Settled yesterday: amoxicillin (甲) 10 × 50.00 = 500.00; atorvastatin (乙) 4 × 100.00 = 400.00, first share
    40.00, eligible 360.00. Total 900.00, eligible 860.00, deductible 200.00, basic fund (860 − 200) × 50 % =
    330.00, person 570.00; burden 860 − 330 = 530.00.
    Today 6 boxes of amoxicillin come back (300.00). Reduced bill: 200.00 + 400.00 = 600.00, eligible 560.00,
    deductible 200.00 (the same: it was charged before the refunded part), basic fund 360 × 50 % = 180.00,
    person 420.00. The correction: total 300.00 = basic fund 150.00 + person 150.00; the accumulators lose
    150.00 of basic fund and of burden, the deductible paid stays 200.00.
    """
    person, operator, _key = setup
    s = settle(person, operator, (AMOX, 10, "50.00"), (ATOR, 4, "100.00"))
    assert (s.total, s.basic_fund, s.person_pays) == (D("900.00"), D("330.00"), D("570.00"))
    line_amox = s.lines.get(code=AMOX)

    correction, created = settlement_correct(
        settlement_id=s.pk,
        actor=operator,
        request_no="R-1",
        lines=[{"line_no": line_amox.line_no, "quantity": "6"}],
        reason="退药",
    )
    assert created
    assert (correction.total, correction.basic_fund, correction.person_pays) == (
        D("300.00"),
        D("150.00"),
        D("150.00"),
    )
    assert correction.critical_fund == correction.assistance_fund == correction.large_amount_fund == D("0.00")
    assert correction.returned == [{"line_no": line_amox.line_no, "quantity": "6", "amount": "300.00"}]
    acc = acc_of(person)
    assert acc.deductible_general_outpatient == D("200.00")
    assert acc.basic_fund_paid == D("180.00")
    assert acc.general_outpatient_basic_paid == D("180.00")
    assert acc.burden == D("380.00")
    # The settlement itself never changes.
    s.refresh_from_db()
    assert (s.total, s.basic_fund, s.person_pays, s.status) == (
        D("900.00"),
        D("330.00"),
        D("570.00"),
        "settled",
    )
    # Audited, and the person is told.
    assert "settlement.correct" in ACTION_WORDS
    assert Notification.objects.filter(person=person, event="settlement_corrected").count() == 1

    # The same request number returns the first correction; nothing is given back twice.
    again, created = settlement_correct(
        settlement_id=s.pk,
        actor=operator,
        request_no="R-1",
        lines=[{"line_no": line_amox.line_no, "quantity": "6"}],
    )
    assert not created and again.pk == correction.pk
    assert acc_of(person).basic_fund_paid == D("180.00")

    # The rest of the line can still come back; not more than is left.
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=s.pk,
            actor=operator,
            request_no="R-2",
            lines=[{"line_no": line_amox.line_no, "quantity": "5"}],
        )
    assert exc.value.code == "correction_too_much"
    settlement_correct(
        settlement_id=s.pk,
        actor=operator,
        request_no="R-3",
        lines=[{"line_no": line_amox.line_no, "quantity": "4"}],
    )
    # What is left: atorvastatin only, eligible 360.00 → basic (360 − 200) × 50 % = 80.00.
    assert acc_of(person).basic_fund_paid == D("80.00")


def test_refusals_write_nothing(setup):
    person, operator, _key = setup
    today_s = settle(person, operator, (AMOX, 2, "10.00"), days_ago=0)
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=today_s.pk, actor=operator, request_no="X", lines=[{"line_no": 1, "quantity": 1}]
        )
    assert exc.value.code == "correction_same_day"

    s = settle(person, operator, (AMOX, 10, "50.00"))
    for lines in ([], [{"line_no": 9, "quantity": 1}], [{"line_no": 1, "quantity": 0}], "x"):
        with pytest.raises(ServiceError) as exc:
            settlement_correct(settlement_id=s.pk, actor=operator, request_no="Y", lines=lines)
        assert exc.value.code == "correction_invalid_lines"
    # Another institution's counter does not even see the settlement.
    other, _ = f.counter(f.hospital(area="110106"))
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=s.pk, actor=other, request_no="Z", lines=[{"line_no": 1, "quantity": 1}]
        )
    assert exc.value.status_code == 404
    # A catalogue changed since: the settlement cannot be re-priced as it was, so it is not corrected.
    from settlement.models import CatalogueItem

    CatalogueItem.objects.filter(code=AMOX).update(coverage_class="C")
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=s.pk, actor=operator, request_no="W", lines=[{"line_no": 1, "quantity": 1}]
        )
    assert exc.value.code == "correction_not_reproducible"
    assert not SettlementCorrection.objects.exists()


def test_reviewer_of_the_insured_area_may_correct_others_may_not(setup):
    person, operator, _key = setup
    s = settle(person, operator, (AMOX, 4, "10.00"))
    stranger = ReviewerFactory(region_code="130100")
    with pytest.raises(ServiceError):
        settlement_correct(
            settlement_id=s.pk, actor=stranger, request_no="A", lines=[{"line_no": 1, "quantity": 1}]
        )
    reviewer = ReviewerFactory(region_code="510100")
    correction, _ = settlement_correct(
        settlement_id=s.pk, actor=reviewer, request_no="A", lines=[{"line_no": 1, "quantity": 1}]
    )
    assert correction.total == D("10.00") and correction.operator == reviewer


def test_api_records_a_correction_and_answers_errors_in_the_users_language(
    setup, counter_client, person_client
):
    person, operator, key = setup
    s = settle(person, operator, (AMOX, 10, "50.00"), (ATOR, 4, "100.00"))
    url = f"/api/v1/settlements/{s.pk}/corrections"
    body = {"request_no": "API-1", "lines": [{"line_no": 1, "quantity": "6"}], "reason": "退药"}
    client = counter_client(key)
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["basic_fund"] == "150.00" and response.json()["person_pays"] == "150.00"
    assert client.post(url, body, format="json").status_code == 200  # the same request number
    too_much = client.post(
        url,
        {"request_no": "API-2", "lines": [{"line_no": 1, "quantity": "5"}]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert too_much.status_code == 409 and too_much.json()["code"] == "correction_too_much"
    assert "left" in too_much.json()["message"]
    zh = client.post(
        url,
        {"request_no": "API-3", "lines": [{"line_no": 1, "quantity": "5"}]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert zh.status_code == 409 and zh.json()["message"] != too_much.json()["message"]
    assert client.post(url, {"request_no": "API-4", "lines": "x"}, format="json").status_code == 400
    # A person cannot correct their own settlement.
    assert person_client(person).post(url, body, format="json").status_code == 403


def test_personal_account_gets_back_its_part(setup):
    person, operator, _key = setup
    PersonalAccount.objects.create(person=person, balance=D("1000.00"))
    s = settle(person, operator, (AMOX, 10, "50.00"), acct_used_flag=True)
    # 500.00 eligible, deductible 200, basic 150.00, person 350.00 all from the account.
    assert s.account_pay == D("350.00")
    correction, _ = settlement_correct(
        settlement_id=s.pk, actor=operator, request_no="ACC", lines=[{"line_no": 1, "quantity": "4"}]
    )
    # Reduced: 300.00, basic 50.00, person 250.00 → account gives back 100.00, basic fund 100.00.
    assert (correction.basic_fund, correction.person_pays, correction.account_pay) == (
        D("100.00"),
        D("100.00"),
        D("100.00"),
    )
    assert PersonalAccount.objects.get(person=person).balance == D("750.00")


def _last_month_moment():
    return timezone.now() - dt.timedelta(days=today().day)


def test_confirmed_statement_stays_closed_the_next_statement_carries_the_adjustment(setup):
    person, operator, _key = setup
    s = settle(person, operator, (AMOX, 10, "50.00"), (ATOR, 4, "100.00"))
    Settlement.objects.filter(pk=s.pk).update(settled_at=_last_month_moment())
    last_month = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    (closed,) = clearing_build(month=last_month)
    clearing_confirm(statement=closed, actor=None)
    before = {name: getattr(closed, name) for name in (*FUNDS, "fund_total", "settlement_count")}

    correction, _ = settlement_correct(
        settlement_id=s.pk, actor=operator, request_no="M-1", lines=[{"line_no": 1, "quantity": "6"}]
    )
    clearing_build(month=last_month)  # rebuilding the closed month changes nothing
    closed.refresh_from_db()
    assert {name: getattr(closed, name) for name in before} == before
    assert not closed.adjustments.exists()

    (carrying,) = clearing_build(month=today())
    assert carrying.settlement_count == 0 and carrying.adjustment_count == 1
    for name in FUNDS:
        assert getattr(carrying, name) == -getattr(correction, name)
    assert carrying.fund_total == -correction.fund_total
    # Rebuilding the draft carries the correction once.
    (carrying,) = clearing_build(month=today())
    assert carrying.adjustment_count == 1 and carrying.basic_fund == D("-150.00")
    rows = clearing_export(statements=[carrying]).splitlines()
    assert correction.number in rows[1] and "-150.00" in rows[1]
    assert rows[-1].split(",")[4] == "TOTAL"


def test_same_month_correction_nets_into_the_unconfirmed_statement(setup):
    """Settled on the 1st of last month, corrected on the 2nd: last month's statement (not yet confirmed)
    carries the settlement and the correction as its adjustment, netted."""
    person, operator, _key = setup
    month = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    tz = timezone.get_current_timezone()
    s = settle(person, operator, (AMOX, 10, "50.00"), (ATOR, 4, "100.00"))
    Settlement.objects.filter(pk=s.pk).update(settled_at=dt.datetime.combine(month, dt.time(10), tzinfo=tz))
    correction, _ = settlement_correct(
        settlement_id=s.pk, actor=operator, request_no="N-1", lines=[{"line_no": 1, "quantity": "6"}]
    )
    SettlementCorrection.objects.filter(pk=correction.pk).update(
        created_at=dt.datetime.combine(month.replace(day=2), dt.time(10), tzinfo=tz)
    )
    (statement,) = clearing_build(month=month)
    assert statement.settlement_count == 1 and statement.adjustment_count == 1
    assert statement.basic_fund == s.basic_fund - correction.basic_fund == D("180.00")
    assert statement.total == D("600.00") and statement.person_pays == D("420.00")
    assert clearing_build(month=today()) == []  # carried once


@pytest.mark.parametrize("seed", range(8))
def test_property_random_partial_refunds(setup, seed):
    """Random bill, random partial refund: the settlement minus the correction equals the reduced bill's
    split (settled afresh for another person with the same year-to-date), the accumulators lose exactly the
    correction, and the next statement's adjustment equals it while the confirmed statement stays the same."""
    rng = random.Random(seed)
    person, operator, _key = setup
    Policy.objects.update(critical_threshold=D(rng.choice(["300.00", "15000.00"])))
    codes = [AMOX, ATOR, SPECIAL, "NOT-IN-CATALOGUE"]
    rows = [
        (code, rng.randint(1, 9), f"{rng.randint(1, 40000) / 100:.2f}")
        for code in rng.sample(codes, rng.randint(1, 4))
    ]
    s = settle(person, operator, *rows)
    Settlement.objects.filter(pk=s.pk).update(settled_at=_last_month_moment())
    last_month = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    (closed,) = clearing_build(month=last_month)
    clearing_confirm(statement=closed, actor=None)
    closed_before = {name: getattr(closed, name) for name in FUNDS}
    acc_before = {name: getattr(acc_of(person), name) for name in ACCUMULATED}

    returned = {}
    for line in s.lines.all():
        if rng.random() < 0.6:
            returned[line.line_no] = rng.randint(1, int(line.quantity))
    if not returned:
        returned[1] = 1
    correction, _ = settlement_correct(
        settlement_id=s.pk,
        actor=operator,
        request_no=f"P-{seed}",
        lines=[{"line_no": n, "quantity": q} for n, q in returned.items()],
    )

    # The reduced bill, settled fresh for a twin with the same (empty) year-to-date, gives the same split.
    kept = [
        (line.code, int(line.quantity) - returned.get(line.line_no, 0), str(line.unit_price))
        for line in s.lines.all()
        if int(line.quantity) - returned.get(line.line_no, 0) > 0
    ]
    acc_after = acc_of(person)
    if kept:
        twin = person_factory(name="李四")
        f.filed(twin)
        fresh = settle(twin, operator, *kept, days_ago=0)
        acc_twin = Accumulator.objects.get(person=twin, year=today().year)
        for name in FUNDS:
            assert getattr(s, name) - getattr(correction, name) == getattr(fresh, name), (seed, name)
        for name in ACCUMULATED:
            assert getattr(acc_after, name) == getattr(acc_twin, name), (seed, name, acc_before[name])
    else:  # everything came back: nothing is paid, the accumulators are as before the settlement
        for name in FUNDS:
            assert getattr(s, name) == getattr(correction, name), (seed, name)
        for name in ACCUMULATED:
            assert getattr(acc_after, name) == D("0.00"), (seed, name)

    # This month's statement: this month's settlements (the twin's) less the correction, as an adjustment.
    (carrying,) = [st for st in clearing_build(month=today()) if st.adjustment_count]
    assert carrying.adjustments.get() == correction
    for name in FUNDS:
        settled = sum((getattr(line, name) for line in carrying.lines.all()), D("0.00"))
        assert getattr(carrying, name) == settled - getattr(correction, name), (seed, name)
    closed.refresh_from_db()
    assert {name: getattr(closed, name) for name in FUNDS} == closed_before


def test_admin_shows_the_correction_under_the_settlement_and_as_an_adjustment(setup, admin_client):
    person, operator, _key = setup
    s = settle(person, operator, (AMOX, 10, "50.00"), (ATOR, 4, "100.00"))
    correction, _ = settlement_correct(
        settlement_id=s.pk, actor=operator, request_no="ADM-1", lines=[{"line_no": 1, "quantity": "6"}]
    )
    page = admin_client.get(f"/admin/settlement/settlement/{s.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    text = page.content.decode()
    assert correction.number in text and "结算更正" in text
    (statement,) = clearing_build(month=today())
    page = admin_client.get(f"/admin/settlement/clearingstatement/{statement.pk}/change/")
    assert page.status_code == 200 and correction.number in page.content.decode()


def test_a_reversed_settlement_and_a_request_number_of_another_settlement_are_refused(setup):
    from settlement.services import settlement_reverse

    person, operator, _key = setup
    first = settle(person, operator, (AMOX, 10, "50.00"))
    settlement_correct(
        settlement_id=first.pk, actor=operator, request_no="SAME", lines=[{"line_no": 1, "quantity": 1}]
    )
    reversed_one = settle(person, operator, (AMOX, 3, "50.00"), days_ago=0)
    settlement_reverse(settlement_id=reversed_one.pk, operator=operator)
    Settlement.objects.filter(pk=reversed_one.pk).update(settled_at=timezone.now() - dt.timedelta(days=1))
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=reversed_one.pk,
            actor=operator,
            request_no="REV",
            lines=[{"line_no": 1, "quantity": 1}],
        )
    assert exc.value.code == "correction_not_settled"
    with pytest.raises(ServiceError) as exc:
        settlement_correct(
            settlement_id=reversed_one.pk,
            actor=operator,
            request_no="SAME",
            lines=[{"line_no": 1, "quantity": 1}],
        )
    assert exc.value.code == "request_no_conflict"
    assert SettlementCorrection.objects.count() == 1
