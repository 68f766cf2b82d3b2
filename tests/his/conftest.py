import pytest

from ecode import keys


@pytest.fixture(autouse=True)
def _his_env(settings, tmp_path):
    # The e-code key ring is cached per process while each test's database is rolled back: start afresh.
    keys._forget()
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    yield
    keys._forget()
