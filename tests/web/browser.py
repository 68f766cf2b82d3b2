"""Headless Chromium for the end-to-end tests: Debian's `chromium` driven by Playwright (never `playwright
install`), and the data a scenario needs (a Chengdu resident, Shanghai's demo institutions, a reviewer and a
counter)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A phone in China asks for Chinese pages (Accept-Language zh-CN), as most of our users' phones do.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
INSURED = "510100"  # Chengdu, Sichuan
DESTINATION = "310000"  # Shanghai
TIMEOUT_MS = 15_000


def require_chromium() -> None:
    """Skip when Chromium is missing on a developer's machine; in CI a missing browser is a failure."""
    if CHROMIUM.exists():
        return
    message = (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run browser tests"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium():
    """A fresh headless Chromium (a new temporary profile each launch)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, device: dict, **options):
    context = browser.new_context(**device, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    # A script error or a blocked resource (CSP) fails the scenario.
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    # Nothing the page loads may be missing (the site icon included).
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.errors = errors
    return page


@dataclass
class Scenario:
    person: object
    phone: str
    password: str
    reviewer: object
    counter: object
    institutions: list


def scenario_data() -> Scenario:
    """A new Chengdu resident (no filing, e-code not activated), Chengdu's reviewer, Shanghai's demo institutions
    and a counter operator at the first of them. Chengdu asks people to pick institutions and reviews by hand."""
    from reference.models import Institution
    from reference.services import DEMO_INSTITUTIONS_CSV, institutions_import
    from tests.factories import PASSWORD, CounterFactory, ReviewerFactory, person_factory
    from tests.filing.factories import policy

    institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())
    policy(INSURED, instant_approval=False, pick_required=True, max_institutions=4)
    person = person_factory(name="李秀英", insured_region=INSURED, birth="19800521")
    shanghai = list(Institution.objects.filter(region_id=DESTINATION).settling().order_by("-level", "code"))
    return Scenario(
        person=person,
        phone=person.phone,
        password=PASSWORD,
        reviewer=ReviewerFactory(region_code=INSURED),
        counter=CounterFactory(institution=shanghai[0]),
        institutions=shanghai,
    )


def sign_in(page, base_url: str, path: str, identifier: str, password: str) -> None:
    page.goto(base_url + path)
    page.fill("#id_identifier", identifier)
    page.fill("#id_password", password)
    page.click("button[type=submit].btn.block")
    page.wait_for_load_state()
