"""Screenshots of the main pages at phone size (and the counter at desktop size) for the README.

The pages are always rendered and photographed; the files in docs/screenshots/ are written only with
UPDATE_SCREENSHOTS=1 (`UPDATE_SCREENSHOTS=1 pytest tests/web/test_screenshots.py`).
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from .browser import (
    DESKTOP,
    DESTINATION,
    PHONE,
    chromium,
    new_page,
    scenario_data,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


@pytest.fixture
def shots(tmp_path):
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False):
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="initial")
        assert path.stat().st_size > 0

    return take


def test_main_pages_render_at_phone_size(live_server, shots):
    from filing.models import Filing
    from filing.services import filing_approve

    data = scenario_data()
    base = live_server.url
    with chromium() as browser:
        page = new_page(browser, PHONE)
        page.goto(base + "/login/")
        shots(page, "01-sign-in")
        sign_in(page, base, "/login/", data.phone, data.password)

        page.goto(base + "/filings/new/")
        page.click("label.choice:has(input[value=resident])")
        shots(page, "03-wizard-1-group")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/destination/$"))
        page.fill("#id_address", "浦东新区张杨路 500 号")
        page.select_option("#id_destination", DESTINATION)
        page.wait_for_selector("#preview-title")
        shots(page, "04-wizard-2-destination")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/institutions/$"))
        for institution in data.institutions[:2]:
            page.click(f"button[name=add][value={institution.code}]")
            page.wait_for_load_state()
        shots(page, "05-wizard-3-institutions")
        page.click(".wizard-actions button[name=next]")
        page.wait_for_url(re.compile(r"/dates/$"))
        shots(page, "06-wizard-4-dates")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/materials/$"))
        page.click("label.choice:has(#id_commitment)")
        shots(page, "07-wizard-5-materials")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/review/$"))
        shots(page, "08-wizard-6-review")
        page.click("#submit-filing")
        page.wait_for_url(re.compile(r"/filings/\d+/$"))

        filing_approve(filing=Filing.objects.get(person=data.person), actor=data.reviewer)
        # Inside Playwright's event loop the ORM opened a connection of its own: close it, or the test
        # database cannot be dropped at the end.
        connections.close_all()
        page.reload()
        shots(page, "10-filing-detail")
        page.goto(base + "/ecode/")
        page.click("form[action='/ecode/activate/'] button")
        page.wait_for_selector("#qr[data-token]")
        token = page.get_attribute("#qr", "data-token")

        counter = new_page(browser, DESKTOP)
        sign_in(counter, base, "/counter/login/", data.counter.username, data.password)
        counter.fill("#id_token", token)
        counter.press("#id_token", "Enter")
        counter.wait_for_selector("#verdict[data-valid=true]")
        # (tests/web/test_counter.py photographs the counter page's states)
        counter.click("#use-button")
        counter.wait_for_selector("#r-use-id")

        page.goto(base + "/")
        shots(page, "02-home")
        page.goto(base + "/filings/")
        shots(page, "09-my-filings")
        page.goto(base + "/ecode/")
        page.wait_for_selector("#qr-img")
        shots(page, "11-ecode")
        page.goto(base + "/notices/")
        shots(page, "12-notices")
        page.goto(base + "/me/")
        shots(page, "14-me")
        for p in (page, counter):
            assert p.errors == [], p.errors
