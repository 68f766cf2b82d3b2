"""The counter page settles a bill: after a use it offers the bill (visit types the institution settles, a
pharmacy's single one fixed), the catalogue search prefills the price last billed, the API answers refusals in
the cashier's language, and the receipt prints on A4 or an 80 mm roll. Test client, on PostgreSQL and SQLite;
the walk in Chromium is in tests/web/test_counter.py."""

from __future__ import annotations

import pytest
from django.conf import settings

from ecode.services import token_issue
from filing.dates import today
from settlement.models import Settlement
from tests.ecode.factories import credential_factory
from tests.factories import CounterFactory, InstitutionFactory
from tests.filing.factories import approved
from tests.settlement import factories as sf

from .factories import DESTINATION as BEIJING
from .factories import beijing_hospitals, chengdu_policy, resident

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}
CATALOGUE = "/api/v1/settlements/catalogue"
PREVIEW = "/api/v1/settlements/preview"


@pytest.fixture
def hospital():
    chengdu_policy()
    sf.policy()
    sf.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    sf.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    sf.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊（四川）", "A", province="510000")
    return beijing_hospitals(1)[0]


def _used(web_client, institution, person=None):
    person = person or resident()
    approved(person, destination=BEIJING, institutions=[institution.code])
    token = token_issue(credential=credential_factory(person=person)).token
    client = web_client(CounterFactory(institution=institution))
    page = client.post("/counter/use/", {"token": token}, **FETCH).content.decode()
    return client, page


def test_after_a_use_the_bill_offers_the_visit_types_the_institution_settles(web_client, hospital):
    _client, page = _used(web_client, hospital)
    assert 'id="bill-form"' in page and 'data-request-no="counter-use-' in page
    assert '<select id="bill-visit-type" name="visit_type">' in page
    for label in ("住院", "普通门诊"):
        assert label in page
    assert 'id="settle-button" disabled' in page and "预结算" in page


def test_a_pharmacy_settles_general_outpatient_only_on_one_screen(web_client, hospital):
    pharmacy = InstitutionFactory(
        region_code=BEIJING,
        area="110102",
        kind="pharmacy",
        level=0,
        inpatient=False,
        chronic_outpatient=False,
        code="P11010200099",
    )
    _client, page = _used(web_client, pharmacy)
    assert 'id="bill-visit-type"' not in page
    assert '<input type="hidden" name="visit_type" value="general_outpatient">' in page
    assert 'id="bill-search"' in page and 'id="settle-button"' in page


def test_catalogue_search_by_code_or_name_in_the_treatment_province(web_client, hospital):
    client, _page = _used(web_client, hospital)
    by_code = client.get(CATALOGUE, {"q": "xj01"}).json()
    assert [i["code"] for i in by_code] == ["XJ01CAA040A001"]
    assert by_code[0]["name"] == "阿莫西林胶囊"  # Beijing's catalogue, not Sichuan's
    assert by_code[0]["coverage_class"] == "A" and by_code[0]["last_price"] is None
    by_name = client.get(CATALOGUE, {"q": "他汀"}).json()
    assert [i["code"] for i in by_name] == ["XC10AAA105A001"]
    assert by_name[0]["first_share_rate"] == "0.1000"
    assert client.get(CATALOGUE, {"q": "nothing-like-this"}).json() == []
    missing = client.get(CATALOGUE)
    assert missing.status_code == 400 and missing.json()["fields"]["q"]


def test_the_price_last_billed_here_is_prefilled(web_client, hospital):
    operator = CounterFactory(institution=hospital)
    person = resident()
    sf.filed(person)
    from settlement.services import settlement_create

    settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=sf.consumed_use(person, operator),
        items=sf.items(("XJ01CAA040A001", 2, "25.50")),
    )
    found = web_client(operator).get(CATALOGUE, {"q": "XJ01"}).json()
    assert found[0]["last_price"] == "25.5000"
    # Another institution's prices are its own.
    other = CounterFactory(institution=beijing_hospitals(1)[0])
    assert web_client(other).get(CATALOGUE, {"q": "XJ01"}).json()[0]["last_price"] is None


def test_only_counters_search_the_catalogue(web_client, hospital):
    person = resident()
    assert web_client(person.user).get(CATALOGUE, {"q": "XJ"}).status_code == 403
    assert web_client().get(CATALOGUE, {"q": "XJ"}).status_code in (401, 403)


@pytest.mark.parametrize(
    "language, message, detail",
    [
        ("zh-hans", "部分字段填写有误。", "数量必须为正数。"),
        ("en", "Some fields are invalid.", "The quantity must be positive."),
    ],
)
def test_a_refusal_is_in_the_cashiers_language(web_client, hospital, language, message, detail):
    client, page = _used(web_client, hospital)
    use_id = int(page.split('data-use-id="', 1)[1].split('"', 1)[0])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    payload = {
        "use_id": use_id,
        "visit_type": "general_outpatient",
        "visit_date": today().isoformat(),
        "items": sf.api_items(("XJ01CAA040A001", 0, "25.00")),
    }
    response = client.post(PREVIEW, payload, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_quantity" and body["message"] == message
    assert body["fields"]["items"]["0"]["quantity"] == [detail]
    settled = client.post(
        "/api/v1/settlements/", {**payload, "visit_date": "2099-01-01"}, content_type="application/json"
    )
    assert settled.status_code == 400 and not Settlement.objects.exists()


def test_the_receipt_prints_on_a4_or_an_80_mm_roll(web_client, hospital):
    operator = CounterFactory(institution=hospital)
    person = resident()
    sf.filed(person)
    from settlement.services import settlement_create

    settlement, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=sf.consumed_use(person, operator),
        items=sf.items(("XJ01CAA040A001", 2, "25.50"), ("XC10AAA105A001", 1, "35")),
    )
    client = web_client(operator)
    a4 = client.get(f"/settlements/{settlement.pk}/receipt").content.decode()
    assert "receipt-80mm.css" not in a4 and 'href="?paper=80mm"' in a4
    roll = client.get(f"/settlements/{settlement.pk}/receipt", {"paper": "80mm"}).content.decode()
    assert "settlement/receipt-80mm.css" in roll and '<body class="paper-80mm">' in roll
    assert 'class="items-narrow"' in roll and "2 × 25.50" in roll
