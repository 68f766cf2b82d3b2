"""The person's phone pages with Django's test client: what the e-code page, the receipt and the filing wizard
say, and that the wizard keeps nothing personal in the session."""

import re

import pytest

from .factories import resident

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_the_digits_under_the_qr_are_grouped_in_fours_for_reading_aloud(web_client):
    person = resident()
    client = web_client(person.user)
    client.post("/ecode/activate/")
    page = client.get("/ecode/").content.decode()
    token = re.search(r'data-token="(\d+)"', page).group(1)
    shown = re.search(r'id="qr-digits">([\d ]+)<', page).group(1)
    groups = shown.split(" ")
    assert "".join(groups) == token
    assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
    # A counter that types the grouped digits is understood (spaces are ignored).
    from web.forms import ScanForm

    form = ScanForm({"token": shown})
    assert form.is_valid() and form.cleaned_data["token"] == token
