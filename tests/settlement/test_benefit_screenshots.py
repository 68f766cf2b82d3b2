"""The receipt and "My settlements" of a settlement the benefit rules decided (preferential critical-illness
terms, a payment standard, a restricted use), photographed in Chromium at 360 and 390 px (the person's phone)
and 1280 px (the counter). Files go to docs/screenshots/ with UPDATE_SCREENSHOTS=1."""

import datetime as dt
import os
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from filing.dates import today
from reference.choices import Scheme
from settlement.services import ItemInput, settlement_create
from tests.factories import PASSWORD, person_factory
from tests.settlement import factories as f
from tests.web.browser import DESKTOP, PHONE, chromium, new_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _settled():
    f.policy(
        region_code="130600",
        scheme=Scheme.RESIDENT,
        rates={("inpatient", 3): ("1300.00", "0.55", None)},
        critical_threshold=D("12000.00"),
        tiers=(("0", "0.60"), ("20000", "0.70")),
        critical_cap=D("20000.00"),
        assistance={"extremely_poor": ("1.00", "100000.00")},
    )
    f.catalogue_item("330802010", "冠状动脉旁路移植术", "A", category="service")
    f.catalogue_item("C0301020010000", "人工心脏瓣膜", "A", category="consumable", max_price=D("30000.00"))
    f.catalogue_item("XB05AAR044B002", "人血白蛋白", "B", restriction="限抢救或重症患者")
    person = person_factory(
        name="刘桂兰", insured_region="130600", scheme=Scheme.RESIDENT, assistance_category="extremely_poor"
    )
    f.identity(person, "extremely_poor")
    filing = f.filed(person, group="referral", start_date=today() - dt.timedelta(days=40))
    operator, _key = f.counter()
    settlement, _ = settlement_create(
        operator=operator,
        visit_type="inpatient",
        filing_id=filing.pk,
        id_number=person.id_number,
        admission_date=today() - dt.timedelta(days=20),
        discharge_date=today(),
        items=[
            ItemInput(code="330802010", quantity=D(1), unit_price=D("12800.00")),
            ItemInput(code="C0301020010000", quantity=D(2), unit_price=D("33500.00")),
            ItemInput(code="XB05AAR044B002", quantity=D(6), unit_price=D("450.00")),
        ],
    )
    return settlement, person, operator


def test_receipt_and_my_settlements_explain_the_rules_at_phone_and_desktop_size(live_server, tmp_path):
    settlement, person, operator = _settled()
    connections.close_all()
    target = Path(settings.BASE_DIR) / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        target = tmp_path
    target.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    receipt = f"/settlements/{settlement.pk}/receipt"
    with chromium() as browser:
        for width in (360, 390):
            page = new_page(browser, {**PHONE, "viewport": {"width": width, "height": 844}})
            sign_in(page, base, "/login/", person.phone, PASSWORD)
            page.goto(base + "/settlements/")
            assert page.locator("[data-rule=preferential_critical]").is_visible()
            page.screenshot(path=str(target / f"40-my-settlements-rules-{width}.png"), full_page=True)
            page.goto(base + receipt)
            assert page.locator(".rules li").count() == 4
            page.screenshot(path=str(target / f"41-receipt-rules-{width}.png"), full_page=True)
            # The rules read in full: no text runs out of the page.
            assert page.evaluate(
                "[...document.querySelectorAll('.rules li')].every(li => li.getBoundingClientRect().right"
                " <= document.documentElement.clientWidth + 1)"
            )
            assert page.errors == [], page.errors
        counter = new_page(browser, DESKTOP)
        sign_in(counter, base, "/counter/login/", operator.username, PASSWORD)
        counter.goto(base + receipt)
        counter.screenshot(path=str(target / "42-receipt-rules-1280.png"), full_page=True)
        assert counter.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert counter.errors == [], counter.errors
