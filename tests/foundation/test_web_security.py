"""What the browser is promised (docs/security.md): CSRF on every cookie-authenticated change, cookies out of
scripts' reach, personal pages never cached nor framed."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_pages_refuse_a_post_without_the_csrf_token():
    person = person_factory()
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"identifier": person.phone, "password": PASSWORD}).status_code == 403
    client.force_login(person.user)
    assert client.post("/logout/everywhere/").status_code == 403
    assert client.get("/me/").status_code == 200  # still signed in: nothing happened


def test_the_api_needs_the_csrf_token_with_a_session_but_not_with_a_bearer_token():
    person = person_factory()
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(person.user)
    assert session.post("/api/v1/auth/logout-everywhere").status_code == 403
    token = APIClient().post(
        "/api/v1/auth/token", {"phone": person.phone, "password": PASSWORD}, format="json"
    )
    bearer = APIClient(enforce_csrf_checks=True)
    bearer.credentials(HTTP_AUTHORIZATION="Bearer " + token.json()["token"])
    assert bearer.post("/api/v1/auth/logout").status_code == 204


def test_the_session_cookie_is_out_of_scripts_reach_and_same_site():
    person = person_factory()
    client = Client()
    response = client.post("/login/", {"identifier": person.phone, "password": PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_personal_pages_are_never_cached_nor_framed():
    person = person_factory()
    client = Client()
    client.force_login(person.user)
    response = client.get("/me/")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
