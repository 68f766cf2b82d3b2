"""A cache (Redis) that is away, under the production cache settings: requests degrade, never a 500.

The cache points at a port where no Redis answers (a redis-server of our own that is not running), so every
cache call fails as it would during an outage; the database still answers.
"""

import pytest

from config.settings.base import redis_cache
from ecode.models import CodeEvent
from ecode.services import token_issue
from tests.ecode.factories import counter, credential_factory, filed_at
from tests.factories import PASSWORD, person_factory
from tests.workers import RedisServer

pytestmark = pytest.mark.django_db

BASE = "/api/v1/ecode/"


@pytest.fixture
def cache_away(settings, tmp_path):
    server = RedisServer(tmp_path)  # never started: its port refuses connections
    settings.CACHES = {"default": redis_cache(server.url, prefix="yibao-outage")}
    return server


def test_consume_while_the_cache_is_away_uses_a_code_once_and_the_database_decides(
    cache_away, counter_client
):
    credential = credential_factory()
    token = token_issue(credential=credential).token
    (first_operator, first_key), (_second_operator, second_key) = counter(), counter()
    filed_at(credential.person, first_operator)  # a use settles there
    first_counter, second_counter = counter_client(first_key), counter_client(second_key)

    first = first_counter.post(BASE + "consume", {"token": token}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["valid"] is True and first.json()["use_id"]
    again = second_counter.post(BASE + "consume", {"token": token}, format="json")
    assert again.status_code == 422 and again.json()["code"] == "already_used"
    assert CodeEvent.objects.filter(kind="consume", result="ok").count() == 1


def test_verify_with_a_counter_key_works_while_the_cache_is_away(cache_away, counter_client):
    credential = credential_factory()
    _operator, key = counter()
    response = counter_client(key).post(
        BASE + "verify", {"token": token_issue(credential=credential).token}, format="json"
    )
    assert response.status_code == 200 and response.json()["valid"] is True


def test_sign_in_while_the_cache_is_away_is_never_a_500(cache_away, api_client, client):
    person_factory(phone="13912345678")
    api = api_client.post("/api/v1/auth/token", {"phone": "13912345678", "password": PASSWORD}, format="json")
    # Signed in: the sign-in limits are kept in the database while the cache is away.
    assert api.status_code == 200, api.content
    assert api.json()["token"]
    page = client.post("/login/", {"identifier": "13912345678", "password": PASSWORD})
    assert page.status_code == 302, page.content


def test_readyz_says_degraded_not_down_while_the_cache_is_away(cache_away, client):
    response = client.get("/readyz")
    assert response.status_code == 200  # the load balancer keeps sending traffic
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "cache": "unavailable", "broker": "in_process"},
    }


def test_signed_in_people_keep_using_the_api_and_the_pages_while_the_cache_is_away(
    cache_away, person_client, client
):
    person = person_factory()
    api = person_client(person)
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/filings/").status_code == 200
    client.force_login(person.user)
    assert client.get("/").status_code == 200
