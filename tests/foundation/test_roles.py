import pytest
from django.test import Client

from accounts.models import InsuredPerson
from core.audit import audit_history
from tests.factories import PASSWORD, ReviewerFactory, make_id_number, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _admin_client(user):
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_reviewer_sees_only_people_of_their_own_pooling_area_masked():
    reviewer = ReviewerFactory(region_code="510100")
    own = person_factory(name="李秀英", insured_region="510100")
    other = person_factory(name="王建国", insured_region="230100")
    page = _admin_client(reviewer).get("/admin/accounts/insuredperson/").content.decode()
    assert own.masked_id_number in page
    assert "李*英" in page
    assert "李秀英" not in page and own.id_number not in page
    assert other.masked_id_number not in page
    assert _admin_client(reviewer).get(f"/admin/accounts/insuredperson/{other.pk}/change/").status_code in (
        302,
        404,
    )


def test_reviewer_finds_a_person_by_full_id_number():
    reviewer = ReviewerFactory(region_code="510100")
    own = person_factory(insured_region="510100", birth="19700101")
    neighbour = person_factory(insured_region="510100", birth="19900101")
    client = _admin_client(reviewer)
    # The search box posts the number (tests/foundation/test_admin.py: it never reaches an address).
    search = "/admin/accounts/insuredperson/person-search/"
    page = client.post(search, {"q": own.id_number}, follow=True)
    assert list(page.context["cl"].result_list) == [own]
    by_phone = client.post(search, {"q": neighbour.phone}, follow=True)
    assert list(by_phone.context["cl"].result_list) == [neighbour]
    assert own.masked_id_number not in by_phone.content.decode()


def test_reviewer_cannot_manage_users_or_keys():
    reviewer = ReviewerFactory(region_code="510100")
    client = _admin_client(reviewer)
    assert client.get("/admin/accounts/user/").status_code == 403
    assert client.get("/admin/accounts/apikey/").status_code == 403


def _admin():
    from accounts.models import User

    admin = User.objects.create_superuser("root", password=PASSWORD, role="admin")
    return _admin_client(admin)


def _registration(**overrides):
    data = {
        "name": "王小明",
        "id_number": make_id_number("510104", "19850315"),
        "phone": "13712345678",
        "insured_region": "510100",
        "scheme": "employee",
        "assistance_category": "",
    }
    data.update(overrides)
    return data


def test_admin_registration_shows_bad_numbers_on_their_fields_and_saves_nothing():
    client = _admin()
    response = client.post(
        "/admin/accounts/insuredperson/add/", _registration(id_number="110105194912310021", phone="12345")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"id_number", "phone"}
    assert not InsuredPerson.objects.exists()


def test_admin_registration_refuses_a_registered_id_number_and_creates_a_new_person():
    client = _admin()
    existing = person_factory(insured_region="510100")
    response = client.post(
        "/admin/accounts/insuredperson/add/",
        _registration(id_number=existing.id_number),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["id_number"] == ["This ID number is already registered."]
    created = client.post("/admin/accounts/insuredperson/add/", _registration())
    assert created.status_code == 302
    person = InsuredPerson.objects.exclude(pk=existing.pk).get()
    assert person.name == "王小明" and person.masked_phone == "137****5678"
    assert audit_history(person).filter(action="person.create").exists()
