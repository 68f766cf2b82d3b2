"""The person's phone pages in Chromium at 360×780 and 390×844: nothing wider than the screen, nothing cut off, a
way back from every page, and taps that land."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from .browser import PHONE, chromium, new_page, sign_in

SHOTS = Path(os.environ.get("PHONE_SHOTS", Path(settings.BASE_DIR) / "docs" / "screenshots"))

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONES = {
    "360": {**PHONE, "viewport": {"width": 360, "height": 780}},
    "390": PHONE,
}

# Everything on the page that reaches past the right edge of the screen (a cut-off column, a long word).
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) out.push(el.tagName + '.' + el.className + ' ' + Math.round(box.right));
  }
  return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};
}"""


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


def shoot(page, name: str) -> None:
    """README pictures, written only with UPDATE_SCREENSHOTS=1."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


def assert_fits(page):
    fit = page.evaluate(OVERFLOW_JS)
    assert fit["scroll"] <= fit["width"] and not fit["out"], fit


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_settlement_receipt_fits_the_phone_reads_well_and_leads_back(live_server, phone, language):
    from django.db import connections

    from core.demo import PERSON_PASSWORD, seed_demo
    from settlement.models import Settlement

    demo = seed_demo()
    retiree = demo.persons_by_group["retiree"]
    settlement = Settlement.objects.filter(person=retiree).first()
    connections.close_all()
    with chromium() as browser:
        page = new_page(browser, {**PHONES[phone], "locale": language})
        sign_in(page, live_server.url, "/login/", retiree.phone, PERSON_PASSWORD)
        page.goto(f"{live_server.url}/settlements/{settlement.pk}/receipt")
        assert_fits(page)
        # The insured area reads on one or two lines, not one character per line.
        area = page.locator(".facts div:nth-child(4) dd")
        height = area.evaluate("el => el.getBoundingClientRect().height")
        line = area.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
        assert height <= 2 * line + 1, (height, line)
        # Every item is on screen, in a list a phone can read.
        items = page.locator(".items-narrow li")
        assert items.count() == settlement.lines.count()
        for item in items.all():
            assert item.is_visible()
        text = page.inner_text("main")
        assert not re.search(r"\(0\.\d{4}\)", text), "the fund ratio is a percent"
        assert re.search(r"[(（]\d{1,3}(\.\d+)?%[)）]", text)
        if language == "zh-CN":
            # Our words (not the catalogue's item names): full-width punctuation, no stray spaces.
            ours = page.inner_text(".split") + page.inner_text("footer")
            assert "。 " not in ours and ": " not in ours and not re.search(r"[\u4e00-\u9fff] ?[.,:(]", ours)
        if phone == "360" and language == "zh-CN":
            shoot(page, "15-receipt")
        page.click("nav.back a")
        page.wait_for_url(re.compile(r"/settlements/$"))
        assert page.errors == [], page.errors


CUT_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(el => el.getClientRects().length && getComputedStyle(el).position !== 'absolute')
  .filter(el => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
  .map(el => [el.textContent.trim(), el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight])"""


@pytest.mark.parametrize("phone", PHONES)
def test_english_titles_and_step_labels_are_not_cut_off(live_server, phone):
    from django.db import connections

    from tests.factories import PASSWORD

    from .browser import scenario_data

    data = scenario_data()
    connections.close_all()
    with chromium() as browser:
        page = new_page(browser, {**PHONES[phone], "locale": "en"})
        # Chosen on this phone before signing in: the pages and the account switch to English.
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}]
        )
        sign_in(page, live_server.url, "/login/", data.phone, PASSWORD)
        page.goto(live_server.url + "/")
        assert page.evaluate(CUT_JS, ".topbar h1") == []
        assert_fits(page)
        page.goto(live_server.url + "/filings/new/")
        page.click("label.choice:has(input[value=resident])")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/destination/$"))
        assert page.evaluate(CUT_JS, ".topbar h1, .steps .step-label") == []
        assert "Destination" in page.inner_text(".steps li.current")
        assert_fits(page)
        assert page.errors == [], page.errors


@pytest.mark.parametrize("phone", PHONES)
def test_destination_results_are_whole_rows_to_tap_and_picking_one_keeps_the_address(live_server, phone):
    from django.db import connections

    from tests.factories import PASSWORD

    from .browser import DESTINATION, scenario_data

    data = scenario_data()
    connections.close_all()
    with chromium() as browser:
        page = new_page(browser, PHONES[phone])
        sign_in(page, live_server.url, "/login/", data.phone, PASSWORD)
        page.goto(live_server.url + "/filings/new/")
        page.click(".wizard-actions button[type=submit]")  # nothing chosen: told what to do
        assert page.locator("#step-error").is_visible()
        page.click("label.choice:has(input[value=resident])")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/destination/$"))
        page.click(".wizard-actions button[type=submit]")
        assert page.locator("#step-error").is_visible()
        page.fill("#id_address", "浦东新区张杨路 500 号")
        page.fill("#region-search", "上海")
        option = page.locator("#region-results button[role=option]").first
        option.wait_for()
        row = option.bounding_box()
        results = page.locator("#region-results").bounding_box()
        assert row["width"] >= results["width"] - 4 and row["height"] >= 44, (row, results)
        assert option.evaluate("el => getComputedStyle(el).cursor") == "pointer"
        # A tap near the right end of the row (far from the text) still picks the place.
        option.click(position={"x": row["width"] - 20, "y": row["height"] / 2})
        page.wait_for_selector("#preview-title")
        assert page.input_value("#id_destination") == DESTINATION
        assert page.input_value("#id_address") == "浦东新区张杨路 500 号"
        assert_fits(page)
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/institutions/"))
        assert page.errors == [], page.errors


def test_the_materials_step_speaks_only_the_pages_language(live_server):
    from django.db import connections

    from tests.factories import PASSWORD

    from .browser import DESTINATION, scenario_data

    data = scenario_data()
    connections.close_all()
    with chromium() as browser:
        page = new_page(browser, PHONES["360"])
        sign_in(page, live_server.url, "/login/", data.phone, PASSWORD)
        page.goto(live_server.url + "/filings/new/")
        page.click("label.choice:has(input[value=resident])")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/destination/$"))
        page.select_option("#id_destination", DESTINATION)
        page.wait_for_selector("#preview-title")
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/institutions/"))
        page.click(f"button[name=add][value={data.institutions[0].code}]")
        page.wait_for_load_state()
        page.click(".wizard-actions button[name=next]")
        page.wait_for_url(re.compile(r"/dates/$"))
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/materials/$"))
        # The browser's own file button would say "Choose File" on a Chinese page.
        assert page.locator("#id_upload").bounding_box()["width"] <= 1
        page.set_input_files(
            "#id_upload", files=[{"name": "居住证.png", "mimeType": "image/png", "buffer": b"x"}]
        )
        assert page.inner_text(".file-pick").replace("\n", "") == "选择文件居住证.png"
        # Next without the residence proof or a commitment: told what is missing, and kept here.
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(r"/materials/$"))
        assert "居住证或其他长期居住证明" in page.inner_text("#step-error")
        assert_fits(page)
        assert page.errors == [], page.errors
