"""Bearer tokens (accounts.tokens): insured people only, a sliding lifetime with an absolute end, sign-out,
sign-out everywhere, and the end of every token when the password changes."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import AuthToken, User
from core.models import AuditEvent
from tests.factories import PASSWORD, CounterFactory, ReviewerFactory, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def sign_in(phone: str, password: str = PASSWORD):
    return APIClient().post("/api/v1/auth/token", {"phone": phone, "password": password}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token)
    return client


def token_of(person) -> str:
    response = sign_in(person.phone)
    assert response.status_code == 200
    return response.json()["token"]


def works(token: str) -> bool:
    status = bearer(token).get("/api/v1/me").status_code
    assert status in (200, 401)
    return status == 200


@pytest.mark.parametrize("role", [Role.ADMIN, Role.REVIEWER, Role.COUNTER])
def test_staff_and_counters_get_no_bearer_token(role):
    if role == Role.ADMIN:
        user = User.objects.create_superuser(username="admin", password=PASSWORD, role=Role.ADMIN)
    elif role == Role.REVIEWER:
        user = ReviewerFactory()
    else:
        user = CounterFactory()
    response = sign_in(user.username)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "not_an_insured_person"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    assert not AuthToken.objects.exists()


def test_a_staff_token_issued_before_is_refused():
    reviewer = ReviewerFactory()
    AuthToken.objects.create(
        user=reviewer,
        key_hash=AuthToken.hash("old-staff-token"),
        expires_at=timezone.now() + dt.timedelta(days=30),
        stamp=reviewer.sign_in_stamp,
    )
    assert bearer("old-staff-token").get("/api/v1/institutions/").status_code == 401


def test_a_wrong_password_of_a_staff_account_is_an_ordinary_401():
    reviewer = ReviewerFactory()
    response = sign_in(reviewer.username, "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_sign_out_ends_this_token_only():
    person = person_factory()
    first, second = token_of(person), token_of(person)
    response = bearer(first).post("/api/v1/auth/logout")
    assert response.status_code == 204
    assert not works(first)
    assert works(second)


def test_sign_out_everywhere_ends_every_token_and_web_session():
    person = person_factory()
    first, second = token_of(person), token_of(person)
    web = Client()
    assert web.post("/login/", {"identifier": person.phone, "password": PASSWORD}).status_code == 302
    assert web.get("/me/").status_code == 200

    response = bearer(first).post("/api/v1/auth/logout-everywhere")
    assert response.status_code == 204
    assert not works(first) and not works(second)
    assert web.get("/me/").status_code == 302  # sent to sign in again
    assert AuditEvent.objects.filter(
        action="user.sign_out_everywhere", target_id=str(person.user.pk)
    ).exists()
    # Signing in again works and gives a working token.
    assert works(token_of(person))


def test_sign_out_everywhere_from_the_me_page():
    person = person_factory()
    token = token_of(person)
    other_phone = Client()
    other_phone.force_login(person.user)
    web = Client()
    web.force_login(person.user)
    assert "/logout/everywhere/" in web.get("/me/").content.decode()

    response = web.post("/logout/everywhere/", follow=True)
    assert response.redirect_chain[-1][0] == "/login/"
    assert "您已在所有手机和设备上退出登录" in response.content.decode()
    assert not works(token)
    assert other_phone.get("/me/").status_code == 302
    assert web.get("/me/").status_code == 302


def test_sign_out_everywhere_needs_a_post():
    person = person_factory()
    web = Client()
    web.force_login(person.user)
    assert web.get("/logout/everywhere/").status_code == 405
    assert web.get("/me/").status_code == 200


def test_sign_out_is_for_bearer_tokens_not_counter_keys(counter_client):
    from tests.factories import counter_with_key

    _operator, key = counter_with_key()
    for url in ("/api/v1/auth/logout", "/api/v1/auth/logout-everywhere"):
        assert counter_client(key).post(url).status_code == 401
    assert counter_client(key).get("/api/v1/institutions/").status_code == 200


def test_a_password_change_ends_every_token():
    person = person_factory()
    token = token_of(person)
    user = person.user
    user.set_password("New-Pass@2026")
    user.save()
    assert not works(token)
    assert not AuthToken.objects.filter(key_hash=AuthToken.hash(token)).exists()
    assert sign_in(person.phone, "New-Pass@2026").status_code == 200


def test_a_password_change_ends_the_web_sessions_too():
    person = person_factory()
    web = Client()
    web.force_login(person.user)
    assert web.get("/me/").status_code == 200
    person.user.set_password("New-Pass@2026")
    person.user.save()
    assert web.get("/me/").status_code == 302


def test_a_password_set_in_admin_ends_every_token():
    person = person_factory()
    token = token_of(person)
    admin = User.objects.create_superuser(username="root", password=PASSWORD, role=Role.ADMIN)
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/accounts/user/{person.user.pk}/password/",
        {"password1": "Admin-Set@2026", "password2": "Admin-Set@2026"},
    )
    assert response.status_code == 302
    assert not works(token)


def test_an_idle_token_ends_and_use_keeps_it_alive():
    person = person_factory()
    idle, used = token_of(person), token_of(person)
    now = timezone.now()
    window = dt.timedelta(hours=settings.AUTH_TOKEN_IDLE_HOURS)
    AuthToken.objects.filter(key_hash=AuthToken.hash(idle)).update(last_used_at=now - window)
    AuthToken.objects.filter(key_hash=AuthToken.hash(used)).update(
        last_used_at=now - window + dt.timedelta(hours=2)
    )
    assert not works(idle)
    assert works(used)
    # The use moved the window: the token lives a whole idle window from now.
    last_used = AuthToken.objects.get(key_hash=AuthToken.hash(used)).last_used_at
    assert last_used >= now


def test_a_token_ends_at_its_absolute_end_even_when_used():
    person = person_factory()
    token = token_of(person)
    stored = AuthToken.objects.get(key_hash=AuthToken.hash(token))
    assert stored.expires_at - stored.last_used_at == dt.timedelta(hours=settings.AUTH_TOKEN_MAX_AGE_HOURS)
    AuthToken.objects.filter(pk=stored.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert not works(token)


def test_the_sliding_window_is_not_written_on_every_request():
    person = person_factory()
    token = token_of(person)
    recent = timezone.now() - dt.timedelta(seconds=30)
    AuthToken.objects.filter(key_hash=AuthToken.hash(token)).update(last_used_at=recent)
    assert works(token) and works(token)
    assert AuthToken.objects.get(key_hash=AuthToken.hash(token)).last_used_at == recent


def test_the_sliding_lifetime_is_shorter_than_the_absolute_end():
    assert settings.AUTH_TOKEN_IDLE_HOURS < settings.AUTH_TOKEN_MAX_AGE_HOURS <= 30 * 24


def test_tokens_are_stored_hashed_only():
    person = person_factory()
    token = token_of(person)
    stored = AuthToken.objects.get(user=person.user)
    assert token not in (stored.key_hash, stored.stamp)
    assert stored.key_hash == AuthToken.hash(token)
