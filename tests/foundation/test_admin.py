"""Admin search by ID number or phone on every list that finds people: posted, kept server-side under an opaque,
short-lived token, scoped to the reviewer's area and audited; the number never reaches an address."""

import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import Client

from core.models import AuditEvent
from filing.dates import today
from settlement.models import Settlement, SupervisionFlag
from settlement.services import settlement_create, supervision_check
from tests.factories import ReviewerFactory, person_factory
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

LISTS = {
    "people": "/admin/accounts/insuredperson/",
    "settlements": "/admin/settlement/settlement/",
    "flags": "/admin/settlement/supervisionflag/",
    "credentials": "/admin/ecode/credential/",
    "filings": "/admin/filing/filing/?status=all",
}


@pytest.fixture(autouse=True)
def _keys():
    from ecode import keys

    keys._forget()  # the e-code key ring is cached per process; each test's database starts afresh
    yield
    keys._forget()


@pytest.fixture
def people(settings):
    """Two people of Chengdu and one of Harbin, each with an approved filing, an e-code, a settlement in Beijing
    and the supervision flag it raised (threshold 0 settlements a day)."""
    settings.SETTLEMENT_SUPERVISION = {"MAX_SETTLEMENTS_PER_PERSON_PER_DAY": 0}
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    operator, _key = f.counter()
    found = {}
    for key, area in (("mine", "510100"), ("neighbour", "510100"), ("elsewhere", "230100")):
        if not any(p.insured_region_id == area for p in found.values()):
            f.policy(region_code=area)
        person = person_factory(insured_region=area)
        f.filed(person)
        settlement, _ = settlement_create(
            operator=operator,
            visit_type="general_outpatient",
            visit_date=today(),
            use_id=f.consumed_use(person, operator),
            items=f.items(("XJ01CAA040A001", 2, "25.00")),
        )
        supervision_check(settlement_id=settlement.pk)
        found[key] = person
    assert SupervisionFlag.objects.count() == 3
    return found


@pytest.fixture
def clerk():
    client = Client()
    client.force_login(ReviewerFactory(region_code="510100"))
    return client


def search(client, path, term):
    """Posts a term as the search box does; returns the address it sends the browser to and that page."""
    base = path.split("?")[0]
    kept = dict(parse_qs(urlsplit(path).query, keep_blank_values=True))
    posted = client.post(base + "person-search/", {"q": term, **{k: v[0] for k, v in kept.items()}})
    assert posted.status_code == 302
    location = posted["Location"]
    return location, client.get(location)


def shown_people(page) -> set[int]:
    rows = page.context["cl"].result_list
    return {getattr(row, "person_id", None) or row.pk for row in rows}


@pytest.mark.parametrize("name", list(LISTS))
@pytest.mark.parametrize("by", ["id_number", "phone"])
def test_search_by_number_is_posted_and_the_address_holds_only_a_token(clerk, people, name, by):
    mine = people["mine"]
    number = mine.id_number if by == "id_number" else mine.phone
    location, page = search(clerk, LISTS[name], number)
    query = parse_qs(urlsplit(location).query)
    assert "ps" in query and "q" not in query
    assert number not in unquote(location) and number[-4:] not in query["ps"][0]
    assert page.status_code == 200
    assert shown_people(page) == {mine.pk}
    html = page.content.decode()
    assert number not in html  # not even in the search box
    # The page says whom it shows, masked as everywhere else.
    assert (mine.masked_id_number if by == "id_number" else mine.masked_phone) in html


@pytest.mark.parametrize("name", list(LISTS))
def test_search_is_scoped_to_the_reviewers_area(clerk, people, name):
    location, page = search(clerk, LISTS[name], people["elsewhere"].id_number)
    assert "ps=" in location
    assert page.context["cl"].result_count == 0


@pytest.mark.parametrize("name", list(LISTS))
def test_a_number_typed_into_the_address_finds_nothing(clerk, people, name):
    base = LISTS[name].split("?")[0]
    page = clerk.get(base, {"q": people["mine"].id_number})
    assert page.context["cl"].result_count == 0
    assert any("search box" in str(m) or "搜索框" in str(m) for m in page.context["messages"])


def test_the_search_is_audited_without_the_number(clerk, people):
    mine = people["mine"]
    search(clerk, LISTS["settlements"], mine.phone)
    event = AuditEvent.objects.get(action="admin.person_search")
    assert event.actor.region_id == "510100" and event.target_id == str(event.actor_id)
    assert event.data == {"list": "settlement.settlement", "by": "phone", "found": 1, "people": [mine.pk]}
    stored = json.dumps(event.data) + event.reason + event.from_state + event.to_state
    assert mine.phone not in stored and mine.phone_hash not in stored
    # Paging, sorting and filtering the result reuse the token: one search, one audit row.
    location, _page = search(clerk, LISTS["people"], mine.id_number)
    clerk.get(location + "&o=1")
    assert AuditEvent.objects.filter(action="admin.person_search").count() == 2


def test_the_token_is_worthless_in_another_session_and_after_it_expires(clerk, people):
    location, page = search(clerk, LISTS["people"], people["mine"].id_number)
    assert page.context["cl"].result_count == 1
    colleague = Client()
    colleague.force_login(ReviewerFactory(region_code="510100"))
    elsewhere = colleague.get(location)
    assert elsewhere.context["cl"].result_count == 0
    assert any("expired" in str(m) or "过期" in str(m) for m in elsewhere.context["messages"])
    # A quarter of an hour later (the session's clock moved on), the same address shows nothing either.
    session = clerk.session
    for entry in session["admin_person_searches"].values():
        entry["until"] -= 15 * 60
    session.save()
    assert clerk.get(location).context["cl"].result_count == 0


def test_codes_stay_in_the_address_and_names_are_refused(clerk, people):
    settlement = Settlement.objects.get(person=people["mine"])
    location, page = search(clerk, LISTS["settlements"], settlement.number)
    assert parse_qs(urlsplit(location).query)["q"] == [settlement.number]
    assert [s.pk for s in page.context["cl"].result_list] == [settlement.pk]
    # Part of an institution's name is no person's data: it may stay in the address too.
    location, page = search(clerk, LISTS["settlements"], settlement.institution.name[:4])
    assert "q=" in location and page.context["cl"].result_count == 2
    # A name might be a person's: refused, and kept out of the address.
    refused = clerk.post(LISTS["settlements"] + "person-search/", {"q": "张三明"}, follow=True)
    assert "张三明" not in unquote(refused.redirect_chain[-1][0])
    assert any("Names cannot be searched" in str(m) or "姓名" in str(m) for m in refused.context["messages"])
    # So is part of a number.
    refused = clerk.post(
        LISTS["people"] + "person-search/", {"q": people["mine"].id_number[:10]}, follow=True
    )
    assert people["mine"].id_number[:10] not in refused.redirect_chain[-1][0]


def test_search_needs_a_post_with_a_csrf_token(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ReviewerFactory(region_code="510100"))
    assert client.post(LISTS["people"] + "person-search/", {"q": people["mine"].id_number}).status_code == 403
    assert client.get(LISTS["people"] + "person-search/").status_code == 302
    assert not AuditEvent.objects.filter(action="admin.person_search").exists()


def test_a_person_without_admin_access_cannot_search(people):
    client = Client()
    client.force_login(people["mine"].user)
    response = client.post(LISTS["people"] + "person-search/", {"q": people["neighbour"].id_number})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AuditEvent.objects.filter(action="admin.person_search").exists()
