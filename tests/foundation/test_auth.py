import pytest
from django.conf import settings

from accounts.models import ApiKey, AuthToken
from accounts.services import api_key_revoke
from tests.factories import PASSWORD, counter_with_key, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_person_signs_in_with_phone_and_gets_a_bearer_token(api_client):
    person = person_factory(name="张三明", phone="13912345678")
    response = api_client.post(
        "/api/v1/auth/token", {"phone": "13912345678", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert not AuthToken.objects.filter(key_hash=token).exists()  # only the hash is stored
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + token)
    me = api_client.get("/api/v1/me").json()
    assert me["name"] == "张*明"
    assert me["phone"] == "139****5678"
    assert me["id_number"] == person.masked_id_number


def test_wrong_password_is_a_401_with_a_chinese_message_by_default(api_client):
    person_factory(phone="13912345678")
    response = api_client.post(
        "/api/v1/auth/token", {"phone": "13912345678", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert set(body) == {"code", "message", "fields"}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])


def test_error_messages_follow_the_request_language(api_client):
    response = api_client.post(
        "/api/v1/auth/token",
        {"phone": "13912345678", "password": "nope"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.json()["message"] == "Wrong phone number or password."


def test_missing_fields_name_each_field(api_client):
    response = api_client.post("/api/v1/auth/token", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"phone", "password"}


def test_malformed_json_is_a_400_not_a_500(api_client):
    response = api_client.post("/api/v1/auth/token", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_sign_in_is_rate_limited(api_client):
    person_factory(phone="13912345678")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api_client.post("/api/v1/auth/token", {"phone": "13912345678", "password": "bad"}, format="json")
    response = api_client.post(
        "/api/v1/auth/token", {"phone": "13912345678", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"


def test_unknown_or_expired_bearer_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_counter_terminal_authenticates_with_its_api_key_and_cannot_read_person_data(counter_client):
    operator, key = counter_with_key()
    stored = ApiKey.objects.get(operator=operator)
    assert key not in (stored.key_hash, stored.prefix)
    response = counter_client(key).get("/api/v1/me")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_revoked_api_key_is_refused_at_once_even_after_recent_use(counter_client):
    operator, key = counter_with_key()
    client = counter_client(key)
    assert client.get("/api/v1/institutions/").status_code == 200  # the key is now remembered by this process
    api_key_revoke(key=ApiKey.objects.get(operator=operator))
    response = client.get("/api/v1/institutions/")
    assert response.status_code == 401


def test_api_key_with_a_forged_secret_is_refused(counter_client):
    _, key = counter_with_key()
    forged = key[:-4] + "AAAA"
    assert counter_client(forged).get("/api/v1/institutions/").status_code == 401


@pytest.mark.embedded
def test_an_api_key_is_shown_once_kept_hashed_and_its_creation_and_revocation_are_audited():
    from core.audit import audit_history

    operator, clear = counter_with_key()
    key = ApiKey.objects.get(operator=operator)
    assert clear.startswith(f"ybk_{key.prefix}_") and key.key_hash == AuthToken.hash(clear)
    assert clear not in {getattr(key, field.attname) for field in ApiKey._meta.fields}
    api_key_revoke(key=key, reason="terminal stolen")
    assert [(e.action, e.reason) for e in audit_history(key)] == [
        ("api_key.create", ""),
        ("api_key.revoke", "terminal stolen"),
    ]
