import pytest
from django.test import Client

from core.demo import PERSON_PASSWORD, seed_demo
from settlement.models import Settlement

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _signed_in(phone: str) -> Client:
    client = Client()
    response = client.post("/login/", {"identifier": phone, "password": PERSON_PASSWORD})
    assert response.status_code == 302
    return client


def test_person_sees_own_settlements_with_the_split_and_a_receipt_link():
    demo = seed_demo()
    retiree = demo.persons_by_group["retiree"]
    settlement = Settlement.objects.filter(person=retiree).select_related("institution").first()
    assert settlement is not None, "the demo settles a discharge for the retiree"

    page = _signed_in("13800000001").get("/settlements/").content.decode()
    assert settlement.institution.name in page
    assert f"¥{settlement.total}" in page and f"¥{settlement.person_pays}" in page
    assert f"/settlements/{settlement.pk}/receipt" in page

    other = _signed_in("13800000002").get("/settlements/").content.decode()
    assert settlement.institution.name not in other
    assert f"/settlements/{settlement.pk}/receipt" not in other
    assert _signed_in("13800000002").get(f"/settlements/{settlement.pk}/receipt").status_code == 404
