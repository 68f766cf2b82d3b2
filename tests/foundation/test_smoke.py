import pytest

from tests.factories import person_factory


@pytest.mark.django_db
def test_token_then_me_shows_masked_record(api_client):
    person = person_factory(name="张三明", phone="13912345678")
    response = api_client.post("/api/v1/auth/token", {"phone": "13912345678", "password": "Pass@word-2026"},
                               format="json")
    assert response.status_code == 200, response.json()
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
    me = api_client.get("/api/v1/me").json()
    assert me["name"] == "张*明"
    assert me["phone"] == "139****5678"
    assert me["id_number"] == person.masked_id_number
