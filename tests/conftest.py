from importlib import import_module

import pytest

# The `broker` fixture: a redis-server of the test's own, for tests with a real Celery worker.
pytest_plugins = ["tests.workers"]

# Data that migrations load (regions, the default filing policy). A transactional test ends with a flush of
# every table, which removes it; pytest-django runs transactional tests last, so reloading it before each of
# them keeps every test seeing the same database as production.
MIGRATION_DATA = [
    ("reference.migrations.0002_load_regions", "load"),
    ("filing.migrations.0003_default_filing_policy", "create_default"),
]


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )


@pytest.fixture(autouse=True)
def _migration_data(request):
    if _is_transactional(request):
        from django.contrib.contenttypes.models import ContentType

        request.getfixturevalue("django_db_setup")
        # The flush that ended the previous transactional test recreated content types under new ids.
        ContentType.objects.clear_cache()
        with request.getfixturevalue("django_db_blocker").unblock():
            migration_data_ensure()
    yield


def migration_data_ensure() -> None:
    """Load again the rows the data migrations made, if the flush that ends a transactional test removed them
    (also for session fixtures that copy the test database, which run before any test's own fixtures)."""
    from django.apps import apps

    if not apps.get_model("reference", "Region").objects.exists():
        for module, function in MIGRATION_DATA:
            getattr(import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def _clear_cache(request):
    # Real Redis is shared between tests: rate-limit counters and one-use markers must not leak. Pure tests
    # (no database, e.g. the e-code token format) don't touch it.
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        from django.core.cache import cache

        cache.clear()
        from accounts.services import api_key_cache_clear

        # Keys remembered by this process belong to rows that the previous test's rollback removed.
        api_key_cache_clear()
    yield


@pytest.fixture(autouse=True)
def _forget_outages():
    # A test that stopped a Redis leaves this process skipping the cache and the broker for a few seconds.
    from core.cache import cache_recovered
    from core.deferred import broker_recovered

    cache_recovered()
    broker_recovered()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def person_client():
    """An API client signed in as the given person: `person_client(person)`."""
    from rest_framework.test import APIClient

    from accounts.tokens import auth_token_issue

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
