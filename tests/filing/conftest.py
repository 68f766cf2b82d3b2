import pytest


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    # Uploaded documents go to a fresh directory per test.
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    yield
