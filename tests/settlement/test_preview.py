"""The pre-settlement (预结算) over the API: the split a settlement would get, to the fen, with nothing written."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.models import AuditEvent, DeferredTask
from filing.dates import today
from filing.models import Filing
from notifications.models import Notification
from settlement.models import Accumulator, Settlement, SettlementLine
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
URL = "/api/v1/settlements/"
PREVIEW = "/api/v1/settlements/preview"

SPLIT_FIELDS = (
    "total",
    "self_paid",
    "first_share",
    "eligible",
    "deductible",
    "ratio",
    "basic_fund",
    "critical_fund",
    "assistance_fund",
    "fund_total",
    "person_pays",
    "fund_ratio",
    "visit_type",
    "visit_date",
    "admission_date",
    "discharge_date",
    "filing_group",
    "emergency",
    "use_id",
)
LINE_FIELDS = (
    "line_no",
    "code",
    "name",
    "category",
    "coverage_class",
    "in_catalogue",
    "quantity",
    "unit_price",
    "amount",
    "self_paid",
    "first_share",
    "eligible",
)


@pytest.fixture
def setup():
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    f.catalogue_item("250203099", "特需病房床位费差价", "C", category="service")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    return person, operator, key


def outpatient(use_id, **extra):
    return {
        "use_id": use_id,
        "visit_type": "general_outpatient",
        "visit_date": today().isoformat(),
        "items": f.api_items(
            ("XJ01CAA040A001", 20, "25.00"), ("XC10AAA105A001", 2, "35.00"), ("NOT-IN-CATALOGUE", 1, "12.30")
        ),
        **extra,
    }


def written():
    """Everything a settlement writes, counted."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Settlement,
            SettlementLine,
            Accumulator,
            AuditEvent,
            Notification,
            DeferredTask,
            Filing,
        )
    }


def assert_same_split(preview: dict, settled: dict) -> None:
    for name in SPLIT_FIELDS:
        assert preview[name] == settled[name], name
    assert preview["person"] == settled["person"]
    assert preview["institution"] == settled["institution"]
    assert [{k: line[k] for k in LINE_FIELDS} for line in preview["lines"]] == [
        {k: line[k] for k in LINE_FIELDS} for line in settled["lines"]
    ]


def test_preview_is_the_settlement_to_the_fen_and_writes_nothing(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    payload = outpatient(f.consumed_use(person, operator), request_no="REQ-P1")
    before = written()
    response = client.post(PREVIEW, payload, format="json")
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert written() == before
    assert preview["total"] == "582.30" and preview["basic_fund"] == "181.50"
    assert preview["person_pays"] == "400.80" and preview["fund_ratio"] == "0.3117"
    assert preview["person"]["masked_name"] != person.name
    # Previewing twice changes nothing either, and the use is still free to settle.
    assert client.post(PREVIEW, payload, format="json").json() == preview
    settled = client.post(URL, payload, format="json")
    assert settled.status_code == 201, settled.json()
    assert_same_split(preview, settled.json())
    assert preview["filing_id"] == settled.json()["filing_id"]


def test_second_bill_of_the_year_previews_on_the_accumulators(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    assert client.post(URL, outpatient(f.consumed_use(person, operator)), format="json").status_code == 201
    payload = outpatient(f.consumed_use(person, operator), items=f.api_items(("XJ01CAA040A001", 4, "25.00")))
    preview = client.post(PREVIEW, payload, format="json").json()
    # The year's deductible is already paid: (100.00 − 0) × 50 % = 50.00
    assert preview["deductible"] == "0.00" and preview["basic_fund"] == "50.00"
    settled = client.post(URL, payload, format="json").json()
    assert_same_split(preview, settled)


def test_emergency_preview_records_no_filing(counter_client):
    f.policy(emergency_cut=D("0.05"))
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    operator, key = f.counter()
    payload = {
        **outpatient(f.consumed_use(person, operator, emergency=True)),
        "emergency": True,
        "items": f.api_items(("XJ01CAA040A001", 20, "25.00")),
    }
    client = counter_client(key)
    before = written()
    response = client.post(PREVIEW, payload, format="json")
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert written() == before and not person.filings.exists()
    assert preview["filing_id"] is None and preview["recorded_emergency"] is True
    assert preview["filing_group"] == "emergency" and preview["basic_fund"] == "135.00"
    settled = client.post(URL, payload, format="json").json()
    assert_same_split(preview, settled)


def test_discharge_by_filing_previews_as_it_settles(setup, counter_client):
    person, _operator, key = setup
    payload = {
        "filing_id": person.filings.get().pk,
        "id_number": person.id_number,
        "visit_type": "inpatient",
        "admission_date": (today() - dt.timedelta(days=5)).isoformat(),
        "discharge_date": today().isoformat(),
        "items": f.api_items(("XJ01CAA040A001", 100, "60.00"), ("250203099", 3, "80.00")),
    }
    client = counter_client(key)
    preview = client.post(PREVIEW, payload, format="json").json()
    assert preview["basic_fund"] == "4000.00" and preview["self_paid"] == "240.00"
    assert_same_split(preview, client.post(URL, payload, format="json").json())


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"visit_type": "dental"}, 400, "invalid_visit_type"),
        ({"items": f.api_items(("XJ01CAA040A001", -1, "25.00"))}, 400, "invalid_quantity"),
        ({"items": f.api_items(("XJ01CAA040A001", 1, "-25.00"))}, 400, "invalid_price"),
        ({"items": f.api_items(("XJ01CAA040A001", 99999999, "9999999999.00"))}, 400, "amount_too_large"),
        ({"items": []}, 400, "invalid"),
        ({"visit_date": (today() + dt.timedelta(days=1)).isoformat()}, 400, "invalid_dates"),
        ({"use_id": None}, 400, "missing_credential"),
        ({"use_id": 99999999}, 404, None),
    ],
)
def test_bad_input_is_refused_as_settling_refuses_it(setup, counter_client, change, status, code):
    person, operator, key = setup
    payload = {**outpatient(f.consumed_use(person, operator)), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    client = counter_client(key)
    preview = client.post(PREVIEW, payload, format="json")
    settle = client.post(URL, payload, format="json")
    assert preview.status_code == status == settle.status_code, preview.json()
    assert preview.json()["code"] == settle.json()["code"]
    if code:
        assert preview.json()["code"] == code
    assert "message" in preview.json()
    assert not Settlement.objects.exists()


def test_bad_json_shapes_never_reach_a_500(setup, counter_client):
    _person, _operator, key = setup
    client = counter_client(key)
    for payload in ({"items": "x"}, {"items": [{"code": 1}]}, {"use_id": "abc", "items": []}, []):
        assert client.post(PREVIEW, payload, format="json").status_code == 400


def test_settled_use_and_no_filing_are_refused_as_settling_does(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    payload = outpatient(f.consumed_use(person, operator))
    assert client.post(URL, payload, format="json").status_code == 201
    response = client.post(PREVIEW, payload, format="json")
    assert response.status_code == 409 and response.json()["code"] == "use_already_settled"

    # (used as an emergency, but the bill does not say it is one)
    stranger = person_factory()
    response = client.post(
        PREVIEW, outpatient(f.consumed_use(stranger, operator, emergency=True)), format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "no_filing"
    assert response.json()["fields"]["reason"] == "no_filing"


def test_use_of_another_institution_is_refused(setup, counter_client):
    person, operator, _key = setup
    _other, other_key = f.counter()
    response = counter_client(other_key).post(
        PREVIEW, outpatient(f.consumed_use(person, operator)), format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "wrong_institution"


def test_only_counters_preview(setup, person_client, api_client):
    person, operator, _key = setup
    payload = outpatient(f.consumed_use(person, operator))
    assert person_client(person).post(PREVIEW, payload, format="json").status_code == 403
    assert api_client.post(PREVIEW, payload, format="json").status_code == 401
