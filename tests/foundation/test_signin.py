"""Sign-in throttling (accounts.signin): one count per account whatever the spelling, per client address, on
every door (the API, the person and counter pages, Django admin)."""

import time
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client, RequestFactory

from accounts import signin
from accounts.choices import Role
from accounts.models import AuthToken, User
from accounts.signin import client_address
from tests.factories import PASSWORD, CounterFactory, ReviewerFactory, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

PHONE = "13800000002"
SPELLINGS = ["138 0000 0002", "+8613800000002", "138-0000-0002", "13800000002"]


def api_sign_in(client, phone, password, **extra):
    return client.post("/api/v1/auth/token", {"phone": phone, "password": password}, format="json", **extra)


def page_sign_in(client, identifier, password, url="/login/", **extra):
    return client.post(url, {"identifier": identifier, "password": password}, **extra)


def admin_sign_in(client, username, password):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}
    )


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_spelling_of_a_phone_counts_against_one_account_on_the_api(api_client):
    person_factory(phone=PHONE)
    for attempt in range(settings.LOGIN_MAX_FAILURES):
        response = api_sign_in(api_client, SPELLINGS[attempt % 3], "wrong")
        assert response.status_code == 401, attempt
    locked = api_sign_in(api_client, SPELLINGS[3], PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert has_chinese(locked.json()["message"])
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    assert not AuthToken.objects.exists()


def test_a_locked_account_refuses_the_right_password_in_every_spelling(api_client):
    person_factory(phone=PHONE)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api_sign_in(api_client, PHONE, "wrong")
    for spelling in SPELLINGS:
        response = api_sign_in(api_client, spelling, PASSWORD)
        assert response.status_code == 429, spelling
    # The lock is the account's, not the address's: the right password from elsewhere is refused too.
    elsewhere = api_sign_in(api_client, "+86 138 0000 0002", PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert elsewhere.status_code == 429


def test_the_lock_is_explained_in_english_to_an_english_client(api_client):
    person_factory(phone=PHONE)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api_sign_in(api_client, PHONE, "wrong")
    response = api_sign_in(api_client, PHONE, PASSWORD, HTTP_ACCEPT_LANGUAGE="en")
    minutes = settings.LOGIN_LOCKOUT_SECONDS // 60
    assert response.json()["message"] == (
        f"Too many failed sign-in attempts. Try again in {minutes} minutes."
    )


def test_every_spelling_of_a_phone_counts_against_one_account_on_the_sign_in_page():
    person_factory(phone=PHONE)
    client = Client()
    for attempt in range(settings.LOGIN_MAX_FAILURES):
        assert page_sign_in(client, SPELLINGS[attempt % 3], "wrong").status_code == 401
    locked = page_sign_in(client, SPELLINGS[3], PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert 0 < int(locked["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
    page = locked.content.decode()
    assert "登录失败次数过多" in page and 'role="alert"' in page
    # Every spelling of the right password is refused while the lock lasts.
    for spelling in SPELLINGS[:3]:
        assert page_sign_in(client, spelling, PASSWORD).status_code == 429


def test_failures_on_one_door_lock_the_account_on_every_door(api_client):
    person = person_factory(phone=PHONE)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api_sign_in(api_client, PHONE, "wrong")
    assert page_sign_in(Client(), "138 0000 0002", PASSWORD).status_code == 429
    # Django admin checks passwords through the same backend.
    User.objects.filter(pk=person.user.pk).update(is_staff=True)
    response = admin_sign_in(Client(), PHONE, PASSWORD)
    assert response.status_code == 200
    assert "登录失败次数过多" in response.content.decode()


def test_counter_sign_in_is_throttled_by_username():
    operator = CounterFactory()
    client = Client()
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert page_sign_in(client, operator.username, "wrong", url="/counter/login/").status_code == 401
    locked = page_sign_in(client, operator.username, PASSWORD, url="/counter/login/")
    assert locked.status_code == 429
    assert "Retry-After" in locked


def test_admin_sign_in_is_throttled_after_30_wrong_reviewer_passwords():
    reviewer = ReviewerFactory()
    client = Client()
    for _ in range(30):
        assert admin_sign_in(client, reviewer.username, "wrong").status_code == 200
    response = admin_sign_in(client, reviewer.username, PASSWORD)
    assert response.status_code == 200  # the sign-in form again, with the reason
    assert "_auth_user_id" not in client.session
    assert "登录失败次数过多" in response.content.decode()
    assert Client().get("/admin/").status_code == 302


def test_admin_lock_is_shown_in_english_too():
    reviewer = ReviewerFactory()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        admin_sign_in(client, reviewer.username, "wrong")
    response = admin_sign_in(client, reviewer.username, PASSWORD)
    assert "Too many failed sign-in attempts." in response.content.decode()


def test_an_unknown_phone_is_answered_and_locked_like_a_registered_one(api_client):
    person_factory(phone=PHONE)
    unknown, known = "13800009999", PHONE
    answers = {}
    for phone in (unknown, known):
        first = api_sign_in(api_client, phone, "wrong")
        for _ in range(settings.LOGIN_MAX_FAILURES - 1):
            api_sign_in(api_client, phone, "wrong")
        locked = api_sign_in(api_client, phone, PASSWORD)
        answers[phone] = [first.status_code, first.json(), locked.status_code, locked.json()["code"]]
    assert answers[unknown] == answers[known]
    assert answers[known][0] == 401 and answers[known][2] == 429


def test_a_successful_sign_in_forgets_the_accounts_failures(api_client):
    person_factory(phone=PHONE)
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        api_sign_in(api_client, PHONE, "wrong")
    assert api_sign_in(api_client, PHONE, PASSWORD).status_code == 200
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        api_sign_in(api_client, PHONE, "wrong")
    assert api_sign_in(api_client, PHONE, PASSWORD).status_code == 200


def test_the_lock_ends_after_the_lockout(api_client, monkeypatch):
    person_factory(phone=PHONE)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api_sign_in(api_client, PHONE, "wrong")
    assert api_sign_in(api_client, PHONE, PASSWORD).status_code == 429
    later = time.time() + settings.LOGIN_LOCKOUT_SECONDS + 1
    monkeypatch.setattr(signin, "time", SimpleNamespace(time=lambda: later))  # the door's clock only
    assert api_sign_in(api_client, PHONE, PASSWORD).status_code == 200


def test_one_address_trying_many_accounts_is_locked(api_client, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 8
    people = [person_factory() for _ in range(3)]
    for person in people[:2]:
        for _ in range(4):  # below each account's own limit
            api_sign_in(api_client, person.phone, "wrong", REMOTE_ADDR="198.51.100.7")
    # The address is locked, even for the right password of an account it has not tried...
    third = api_sign_in(api_client, people[2].phone, PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert third.status_code == 429
    # ...and a success does not reopen it; other addresses are not concerned.
    assert api_sign_in(api_client, people[0].phone, PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 200
    assert api_sign_in(api_client, people[2].phone, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_a_forged_forwarded_for_header_does_not_give_an_address_fresh_tries(api_client, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    person = person_factory(phone=PHONE)
    for n in range(3):
        api_sign_in(api_client, f"1370000000{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    # No proxy is trusted by default: the three tries came from one address, whatever the header said.
    response = api_sign_in(api_client, person.phone, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("hops", "forwarded", "remote", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.1", "10.0.0.1"),
        (1, "192.0.2.66, 198.51.100.7", "10.0.0.1", "198.51.100.7"),  # the client wrote the first entry
        (2, "192.0.2.66, 198.51.100.7, 10.0.0.2", "10.0.0.1", "198.51.100.7"),
        (1, "", "10.0.0.1", "10.0.0.1"),  # no header: the peer
        (1, "not-an-address", "10.0.0.1", None),
        (0, "", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # IPv6 per /64
        (0, "", "::ffff:198.51.100.7", "198.51.100.7"),
        (0, "", "", None),  # a unix socket without a proxy header: no address counter
    ],
)
def test_the_client_address_is_taken_from_trusted_proxies_only(settings, hops, forwarded, remote, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_address(request) == expected


def test_inactive_accounts_are_answered_like_wrong_passwords(api_client):
    person = person_factory(phone=PHONE)
    User.objects.filter(pk=person.user.pk).update(is_active=False)
    response = api_sign_in(api_client, PHONE, PASSWORD)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_a_staff_username_shaped_like_a_phone_still_signs_in_to_admin():
    admin = User.objects.create_superuser(username="13700000000", password=PASSWORD, role=Role.ADMIN)
    client = Client()
    response = admin_sign_in(client, admin.username, PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
