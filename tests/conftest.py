import pytest


@pytest.fixture(autouse=True)
def _clear_cache(request):
    # Real Redis is shared between tests: rate-limit counters and one-use markers must not leak. Pure tests
    # (no database, e.g. the e-code token format) don't touch it.
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        from django.core.cache import cache

        cache.clear()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def person_client():
    """An API client signed in as the given person: `person_client(person)`."""
    from rest_framework.test import APIClient

    from accounts.services import auth_token_issue

    def make(person):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {auth_token_issue(user=person.user)}")
        return client

    return make


@pytest.fixture
def counter_client():
    """An API client acting as a counter terminal: `counter_client(clear_api_key)`."""
    from rest_framework.test import APIClient

    def make(api_key: str):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        return client

    return make
