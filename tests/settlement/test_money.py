"""Money is exact on every backend: splits with fen amounts are recorded as computed (SQLite stored decimals as
floats, and 1,440.46 + 2,679.60 ≠ 4,120.06 there), and a refusal by the database is said for what it is."""

import datetime as dt
import logging
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from core.integrity import violated_constraint
from filing.dates import today
from settlement.models import Accumulator, Settlement
from settlement.services import settlement_create
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
URL = "/api/v1/settlements/"


@pytest.fixture
def setup():
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("250203099", "特需病房床位费差价", "C", category="service")
    person = person_factory()
    filing = f.filed(person)
    operator, key = f.counter()
    return person, filing, operator, key


def test_the_issues_split_1440_46_plus_2679_60_is_4120_06(setup, counter_client):
    """General outpatient at level 3 (deductible ¥200 a year, 50 %):
      甲 1 × 3,080.92, 丙 1 × 1,039.14: total 4,120.06, eligible 3,080.92
      basic = (3,080.92 − 200.00) × 50 % = 1,440.46; person pays 4,120.06 − 1,440.46 = 2,679.60
    As floats 1,440.46 + 2,679.60 = 4,120.0599999999995: SQLite refused this settlement as `use_already_settled`.
    """
    person, _filing, operator, key = setup
    payload = {
        "use_id": f.consumed_use(person, operator),
        "visit_type": "general_outpatient",
        "visit_date": today().isoformat(),
        "items": f.api_items(("XJ01CAA040A001", 1, "3080.92"), ("250203099", 1, "1039.14")),
    }
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["total"], body["basic_fund"], body["person_pays"]) == ("4120.06", "1440.46", "2679.60")
    stored = Settlement.objects.get(pk=body["id"])
    assert (stored.total, stored.basic_fund, stored.person_pays) == (D("4120.06"), D("1440.46"), D("2679.60"))
    assert (
        stored.total == stored.basic_fund + stored.critical_fund + stored.assistance_fund + stored.person_pays
    )
    assert Settlement.objects.filter(total=D("1440.46") + D("2679.60")).count() == 1
    assert Accumulator.objects.get(person=person).burden == D("1640.46")


def test_discharge_by_filing_and_id_number_with_fen_amounts(setup, counter_client):
    """Inpatient at level 3 (¥1,000 per admission, 80 %), settled by filing and ID number (no e-code):
      甲 1 × 6,213.25, 丙 1 × 619.98: total 6,833.23
      basic = (6,213.25 − 1,000.00) × 80 % = 4,170.60; person pays 2,662.63
    On SQLite the float check refused it and the filing path answered 500.
    """
    person, filing, _operator, key = setup
    payload = {
        "filing_id": filing.pk,
        "id_number": person.id_number,
        "visit_type": "inpatient",
        "admission_date": (today() - dt.timedelta(days=4)).isoformat(),
        "discharge_date": today().isoformat(),
        "items": f.api_items(("XJ01CAA040A001", 1, "6213.25"), ("250203099", 1, "619.98")),
    }
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["total"], body["basic_fund"], body["person_pays"]) == ("6833.23", "4170.60", "2662.63")
    assert body["use_id"] is None


def test_a_refusal_by_the_database_is_not_reported_as_something_else(
    setup, counter_client, monkeypatch, caplog
):
    """Settlement numbers are random: should one ever repeat, the database refuses the row. The counter hears
    that the settlement was not recorded (not that the use was settled), and the log names the constraint
    without personal data."""
    person, _filing, operator, key = setup
    client = counter_client(key)
    bill = f.api_items(("XJ01CAA040A001", 2, "25.00"))
    visit = {"visit_type": "general_outpatient", "visit_date": today().isoformat(), "items": bill}
    monkeypatch.setattr("settlement.services.settle.secrets.randbelow", lambda _n: 42)
    first = client.post(URL, {**visit, "use_id": f.consumed_use(person, operator)}, format="json")
    assert first.status_code == 201, first.json()

    with caplog.at_level(logging.ERROR, logger="settlement.services"):
        response = client.post(URL, {**visit, "use_id": f.consumed_use(person, operator)}, format="json")

    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "settlement_not_recorded"
    assert "number" in body["fields"]["constraint"]
    assert Settlement.objects.count() == 1
    assert Accumulator.objects.get(person=person).deductible_general_outpatient == D(
        "50.00"
    )  # the first only
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "number" in logged
    assert person.id_number not in logged and person.name not in logged
    assert Settlement.objects.get().number not in logged


def test_the_constraint_a_settlement_row_breaks_is_named_without_its_values(setup):
    """What settlement_create decides by: the name (or columns) of the broken constraint, on both backends."""
    person, _filing, operator, _key = setup
    settlement, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(person, operator),
        request_no="REQ-7",
        items=f.items(("XJ01CAA040A001", 1, "3080.92")),
    )

    def broken(**changes) -> str:
        row = Settlement.objects.get(pk=settlement.pk)
        row.pk, row.number = None, "JS-COPY"
        for name, value in changes.items():
            setattr(row, name, value)
        with pytest.raises(IntegrityError) as error, transaction.atomic():
            row.save()
        return violated_constraint(error.value)

    assert "code_event" in broken(request_no="")
    assert "request_no" in broken(code_event=None)
    assert broken(code_event=None, request_no="", total=settlement.total + D("0.01")) in {
        "settlement_split_adds_up",
        "settlement_items_add_up",
    }
    for name in (broken(request_no=""), broken(code_event=None)):
        assert "REQ-7" not in name and "=" not in name  # PostgreSQL's message says "Key (...)=(value)"
