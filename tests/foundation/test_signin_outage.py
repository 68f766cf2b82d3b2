"""Sign-in while Redis is down: the cache of the production settings is a real redis-server of this test's own,
stopped mid-flow. Sign-in keeps working and keeps its limits (counted in the database); never a 500."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import SignInThrottle
from config.settings.base import redis_cache
from tests.factories import PASSWORD, ReviewerFactory, person_factory
from tests.workers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_redis(tmp_path, settings):
    """The default cache on a redis-server that the test may stop (never the machine's shared Redis)."""
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {"default": redis_cache(server.url, prefix="signin-outage")}  # as in production
    yield server
    server.stop()


def api_sign_in(phone, password):
    return APIClient().post("/api/v1/auth/token", {"phone": phone, "password": password}, format="json")


def test_sign_in_works_and_stays_limited_while_the_cache_is_down(own_redis):
    person = person_factory()
    reviewer = ReviewerFactory()
    assert api_sign_in(person.phone, "wrong").status_code == 401  # counted in Redis
    cache.set("probe", 1)
    own_redis.stop()
    with pytest.raises(Exception):  # noqa: B017 - the cache really is gone
        cache.get("probe")

    # The right password signs in on every door; tokens and sessions (in PostgreSQL) work.
    token = api_sign_in(person.phone, PASSWORD)
    assert token.status_code == 200
    me = APIClient(HTTP_AUTHORIZATION="Bearer " + token.json()["token"]).get("/api/v1/me")
    assert me.status_code == 200
    page = Client()
    assert page.post("/login/", {"identifier": person.phone, "password": PASSWORD}).status_code == 302
    assert page.get("/me/").status_code == 200
    admin = Client()
    response = admin.post(
        "/admin/login/", {"username": reviewer.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302

    # Failures are counted in the database and lock the account, every spelling, with a clear answer.
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert api_sign_in(person.phone, "wrong").status_code == 401
    assert SignInThrottle.objects.filter(locked_until__isnull=False).exists()
    locked = api_sign_in("+86 " + person.phone, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert int(locked["Retry-After"]) > 0
    refused = Client().post("/login/", {"identifier": person.phone, "password": PASSWORD})
    assert refused.status_code == 429 and "Retry-After" in refused

    for _ in range(settings.LOGIN_MAX_FAILURES):
        admin_attempt = Client().post(
            "/admin/login/", {"username": reviewer.username, "password": "wrong", "next": "/admin/"}
        )
        assert admin_attempt.status_code == 200
    admin_locked = Client().post(
        "/admin/login/", {"username": reviewer.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert admin_locked.status_code == 200
    assert "登录失败次数过多" in admin_locked.content.decode()


def test_sign_in_uses_the_cache_again_when_it_returns(own_redis):
    person = person_factory()
    own_redis.stop()
    assert api_sign_in(person.phone, PASSWORD).status_code == 200
    own_redis.start()
    # The load balancer's probe finds the cache back (each process otherwise waits a few seconds to retry it).
    assert Client().get("/readyz").json()["checks"]["cache"] == "ok"
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert api_sign_in(person.phone, "wrong").status_code == 401
    assert api_sign_in(person.phone, PASSWORD).status_code == 429
    assert not SignInThrottle.objects.exists()  # counted in Redis again
