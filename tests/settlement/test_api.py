"""The settlement API as counters and people use it: settle, read, reverse, and the refusals."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.choices import PersonStatus
from filing.dates import today
from notifications.models import Notification
from settlement.models import Accumulator, Settlement
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
URL = "/api/v1/settlements/"


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


def test_counter_settles_and_gets_the_itemised_split(setup, counter_client):
    person, operator, key = setup
    response = counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    # 甲 500.00 + 乙 70.00 (first share 7.00) + not listed 12.30 = 582.30; eligible 563.00
    # basic = (563.00 − 200.00) × 50 % = 181.50; person pays 582.30 − 181.50 = 400.80
    assert body["total"] == "582.30"
    assert body["self_paid"] == "12.30"
    assert body["first_share"] == "7.00"
    assert body["eligible"] == "563.00"
    assert body["deductible"] == "200.00"
    assert body["basic_fund"] == "181.50"
    assert body["critical_fund"] == "0.00" and body["assistance_fund"] == "0.00"
    assert body["person_pays"] == "400.80"
    assert body["fund_ratio"] == "0.3117"
    assert [line["in_catalogue"] for line in body["lines"]] == [True, True, False]
    assert body["lines"][2]["self_paid"] == "12.30"
    assert body["person"]["masked_name"] != person.name
    assert body["receipt_url"] == f"/settlements/{body['id']}/receipt"
    note = Notification.objects.get(person=person, event="settlement_completed")
    assert note.context == {
        "settlement_id": str(body["id"]),
        "settlement_number": body["number"],
        "institution_name": operator.institution.name,
        "total": "582.30",
        "person_pays": "400.80",
    }


def test_same_request_number_returns_the_first_settlement(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    payload = outpatient(f.consumed_use(person, operator), request_no="REQ-1")
    first = client.post(URL, payload, format="json")
    again = client.post(URL, payload, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Settlement.objects.count() == 1
    assert Accumulator.objects.get(person=person).basic_fund_paid == D("181.50")


def test_one_use_settles_once(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    payload = outpatient(f.consumed_use(person, operator))
    assert client.post(URL, payload, format="json").status_code == 201
    response = client.post(URL, payload, format="json")
    assert response.status_code == 409 and response.json()["code"] == "use_already_settled"


def test_use_of_another_institution_is_refused(setup, counter_client):
    person, operator, _key = setup
    _other, other_key = f.counter()
    response = counter_client(other_key).post(
        URL, outpatient(f.consumed_use(person, operator)), format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "wrong_institution"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"visit_type": "dental"}, "invalid_visit_type"),
        ({"items": f.api_items(("XJ01CAA040A001", -1, "25.00"))}, "invalid_quantity"),
        ({"items": f.api_items(("XJ01CAA040A001", 1, "-25.00"))}, "invalid_price"),
        # Within each field's digits, but beyond what a settlement's money columns hold.
        ({"items": f.api_items(("XJ01CAA040A001", 99999999, "9999999999.00"))}, "amount_too_large"),
        ({"items": []}, "invalid"),
        ({"visit_date": (today() + dt.timedelta(days=1)).isoformat()}, "invalid_dates"),
        ({"use_id": None}, "missing_credential"),
    ],
)
def test_bad_input_is_a_400_with_a_code(setup, counter_client, change, code):
    person, operator, key = setup
    payload = {**outpatient(f.consumed_use(person, operator)), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert Settlement.objects.count() == 0


def test_bad_json_shapes_never_reach_a_500(setup, counter_client):
    _person, _operator, key = setup
    client = counter_client(key)
    for payload in ({"items": "x"}, {"items": [{"code": 1}]}, {"use_id": "abc", "items": []}, []):
        response = client.post(URL, payload, format="json")
        assert response.status_code == 400


def test_without_a_filing_settlement_is_refused(counter_client):
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    operator, key = f.counter()
    # (the counter used the code as an emergency, but the bill does not say it is one)
    use_id = f.consumed_use(person, operator, emergency=True)
    response = counter_client(key).post(URL, outpatient(use_id), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "no_filing"
    assert response.json()["fields"]["reason"] == "no_filing"
    assert not Settlement.objects.exists()


def test_emergency_without_a_filing_is_settled_and_recorded_as_filed(counter_client):
    f.policy(emergency_cut=D("0.05"))
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    operator, key = f.counter()
    payload = {
        **outpatient(f.consumed_use(person, operator, emergency=True)),
        "emergency": True,
        "items": f.api_items(("XJ01CAA040A001", 20, "25.00")),
    }
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["emergency"] is True and body["filing_group"] == "emergency"
    # emergency cut 5 points: (500 − 200) × 45 % = 135.00
    assert body["ratio"] == "0.4500" and body["basic_fund"] == "135.00"
    filing = person.filings.get()
    assert filing.group == "emergency" and filing.status == "approved"
    assert filing.destination_id == operator.institution.region_id


def test_inactive_person_is_refused(setup, counter_client):
    person, operator, key = setup
    use_id = f.consumed_use(person, operator)
    person.status = PersonStatus.SUSPENDED
    person.save(update_fields=["status"])
    response = counter_client(key).post(URL, outpatient(use_id), format="json")
    assert response.status_code == 409 and response.json()["code"] == "person_not_active"


def test_no_policy_of_the_insured_place_is_refused(counter_client):
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    response = counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json")
    assert response.status_code == 409 and response.json()["code"] == "no_policy"


def test_discharge_by_filing_and_id_number(setup, counter_client):
    person, _operator, key = setup
    filing = person.filings.get()
    payload = {
        "filing_id": filing.pk,
        "id_number": person.id_number,
        "visit_type": "inpatient",
        "admission_date": (today() - dt.timedelta(days=5)).isoformat(),
        "discharge_date": today().isoformat(),
        "items": f.api_items(("XJ01CAA040A001", 100, "60.00")),
    }
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    # (6,000 − 1,000) × 80 % = 4,000.00
    assert response.json()["basic_fund"] == "4000.00" and response.json()["use_id"] is None

    someone_else = person_factory()
    response = counter_client(key).post(URL, {**payload, "id_number": someone_else.id_number}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "filing_not_of_person"
    response = counter_client(key).post(
        URL, {**payload, "visit_type": "general_outpatient", "visit_date": today().isoformat()}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "missing_credential"
    response = counter_client(key).post(URL, {**payload, "filing_id": 999999}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "unknown_filing"


def test_inpatient_needs_ordered_dates(setup, counter_client):
    person, operator, key = setup
    payload = {
        "use_id": f.consumed_use(person, operator),
        "visit_type": "inpatient",
        "admission_date": today().isoformat(),
        "discharge_date": (today() - dt.timedelta(days=2)).isoformat(),
        "items": f.api_items(("XJ01CAA040A001", 1, "10")),
    }
    response = counter_client(key).post(URL, payload, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_dates"


def test_only_counters_settle(setup, person_client, api_client):
    person, _operator, _key = setup
    assert person_client(person).post(URL, {}, format="json").status_code == 403
    assert api_client.post(URL, {}, format="json").status_code == 401


def test_person_sees_own_settlements_and_counter_its_institutions(setup, counter_client, person_client):
    person, operator, key = setup
    created = (
        counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    )
    other_person = person_factory()
    _other_operator, other_key = f.counter()

    mine = person_client(person).get(URL).json()
    assert [s["id"] for s in mine["results"]] == [created["id"]]
    assert person_client(person).get(f"{URL}{created['id']}").json()["person_pays"] == "400.80"
    assert person_client(other_person).get(URL).json()["count"] == 0
    assert person_client(other_person).get(f"{URL}{created['id']}").status_code == 404
    assert counter_client(key).get(URL).json()["count"] == 1
    assert counter_client(other_key).get(URL).json()["count"] == 0
    assert counter_client(other_key).get(f"{URL}{created['id']}").status_code == 404


def test_reverse_same_day_by_the_same_institution(setup, counter_client):
    person, operator, key = setup
    created = (
        counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    )
    _other, other_key = f.counter()
    assert (
        counter_client(other_key).post(f"{URL}{created['id']}/reverse", {}, format="json").status_code == 404
    )

    response = counter_client(key).post(
        f"{URL}{created['id']}/reverse", {"reason": "重复收费"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "reversed"
    assert Notification.objects.filter(person=person, event="settlement_reversed").exists()
    again = counter_client(key).post(f"{URL}{created['id']}/reverse", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"


def test_reversal_goes_newest_first_so_later_settlements_stay_right(setup, counter_client):
    person, operator, key = setup
    client = counter_client(key)
    first = client.post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    second = client.post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    refused = client.post(f"{URL}{first['id']}/reverse", {}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "later_settlement_exists"
    assert Settlement.objects.get(pk=first["id"]).status == "settled"
    assert client.post(f"{URL}{second['id']}/reverse", {}, format="json").status_code == 200
    assert client.post(f"{URL}{first['id']}/reverse", {}, format="json").status_code == 200


def test_reverse_on_a_later_day_is_refused(setup, counter_client):
    person, operator, key = setup
    created = (
        counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    )
    Settlement.objects.filter(pk=created["id"]).update(settled_at=timezone.now() - dt.timedelta(days=1))
    response = counter_client(key).post(f"{URL}{created['id']}/reverse", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "reversal_not_same_day"


def test_person_cannot_reverse(setup, counter_client, person_client):
    person, operator, key = setup
    created = (
        counter_client(key).post(URL, outpatient(f.consumed_use(person, operator)), format="json").json()
    )
    assert person_client(person).post(f"{URL}{created['id']}/reverse", {}, format="json").status_code == 403
