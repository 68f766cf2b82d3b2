import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    # Uploaded documents go to a fresh directory per test.
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    yield


@pytest.fixture
def web_client():
    """A browser-like client signed in as the given user: `web_client(user)` (None: anonymous)."""

    def make(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make
