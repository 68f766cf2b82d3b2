import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import auth_token_issue


@pytest.fixture(autouse=True)
def _clear_cache():
    # Real Redis is shared between tests: rate-limit counters and one-use markers must not leak.
    cache.clear()
    yield


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def person_client():
    """An API client signed in as the given person: `person_client(person)`."""

    def make(person):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth_token_issue(user=person.user)}")
        return client

    return make


@pytest.fixture
def counter_client():
    """An API client acting as a counter terminal: `counter_client(clear_api_key)`."""

    def make(api_key: str):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        return client

    return make
