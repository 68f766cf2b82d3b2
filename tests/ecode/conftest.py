import pytest

from ecode import keys


@pytest.fixture(autouse=True)
def _fresh_keyring():
    # The key ring is cached per process, but each test's database is rolled back: start every test afresh.
    keys._forget()
    yield
    keys._forget()
