"""The counter page says what will happen before a code is used and what happened after: a used code is shown
as used (when, where), a person with no filing in force here leads with "no direct settlement here" and gets no
plain use button, and a use says it is a use waiting for its bill. Django's test client first (on PostgreSQL
and SQLite), then the page in Chromium at 1280×800 with screenshots for the README."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from ecode.models import CodeEvent
from ecode.services import ecode_consume, token_issue
from notifications.models import Notification
from tests.ecode.factories import credential_factory
from tests.factories import PASSWORD, CounterFactory
from tests.filing.factories import approved

from .browser import DESKTOP, DESTINATION, chromium, new_page, scenario_data, sign_in
from .factories import DESTINATION as BEIJING
from .factories import beijing_hospitals, chengdu_policy, resident

SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture
def hospitals():
    chengdu_policy()
    return beijing_hospitals(2)


def _filed_code(hospital):
    person = resident()
    approved(person, destination=BEIJING, institutions=[hospital.code])
    return person, token_issue(credential=credential_factory(person=person)).token


# --- The page's answers (test client) ---


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_code_of_a_person_filed_here_is_valid_with_the_use_as_the_main_action(web_client, hospitals):
    _person, token = _filed_code(hospitals[0])
    html = web_client(CounterFactory(institution=hospitals[0])).post(
        "/counter/verify/", {"token": token}, **FETCH
    )
    page = html.content.decode()
    assert 'data-valid="true"' in page and 'data-settlement-here="true"' in page
    assert 'class="btn block" id="use-button"' in page
    assert "本机构不能直接结算" not in page


@pytest.mark.django_db
@pytest.mark.embedded
def test_no_filing_here_leads_with_no_direct_settlement_and_no_plain_use(web_client, hospitals):
    person = resident()
    token = token_issue(credential=credential_factory(person=person)).token
    client = web_client(CounterFactory(institution=hospitals[0]))
    page = client.post("/counter/verify/", {"token": token}, **FETCH).content.decode()
    assert 'data-valid="true"' in page and 'data-settlement-here="false"' in page
    assert 'data-reason="no_filing"' in page
    verdict = re.search(r'<div class="verdict (\w+)"[^>]*id="verdict".*?</div>\s*</div>', page, re.S)
    assert verdict.group(1) == "warn"
    assert "<h2>本机构不能直接结算</h2>" in verdict.group(0) and "无有效备案" in verdict.group(0)
    assert 'id="use-button"' not in page
    # The use is offered only as an emergency, a secondary, labelled action.
    assert 'class="btn secondary" id="emergency-button"' in page and "按急诊抢救使用" in page
    assert not CodeEvent.objects.filter(kind="consume").exists()


@pytest.mark.django_db
@pytest.mark.embedded
def test_an_institution_that_cannot_settle_offers_no_use_at_all(web_client, hospitals):
    _person, token = _filed_code(hospitals[0])
    offline = CounterFactory(institution=beijing_hospitals(1)[0])
    offline.institution.networked = False
    offline.institution.save()
    page = web_client(offline).post("/counter/verify/", {"token": token}, **FETCH).content.decode()
    assert 'data-reason="institution_not_networked"' in page and "本机构未开通跨省直接结算" in page
    assert 'id="use-button"' not in page and 'id="emergency-button"' not in page


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_plain_use_of_a_code_that_cannot_settle_here_is_refused_and_not_burned(web_client, hospitals):
    person = resident()
    token = token_issue(credential=credential_factory(person=person)).token
    client = web_client(CounterFactory(institution=hospitals[0]))
    page = client.post("/counter/use/", {"token": token}, **FETCH).content.decode()
    assert 'data-code="not_covered"' in page and "医保电子凭证码未使用" in page
    assert not Notification.objects.filter(person=person, event="ecode_used").exists()
    assert (
        'data-settlement-here="false"'
        in client.post("/counter/verify/", {"token": token}, **FETCH).content.decode()
    )


@pytest.mark.django_db
@pytest.mark.embedded
def test_after_a_use_the_page_says_the_code_is_used_and_waits_for_the_bill(web_client, hospitals):
    person, token = _filed_code(hospitals[0])
    client = web_client(CounterFactory(institution=hospitals[0]))
    page = client.post("/counter/use/", {"token": token}, **FETCH).content.decode()
    use = CodeEvent.objects.get(kind="consume", result="ok")
    assert f'data-use-id="{use.pk}"' in page and f'id="r-use-id">{use.pk}<' in page
    assert "<h2>此码已使用，等待结算账单</h2>" in page and "已用于结算" not in page
    assert "等待结算账单" in page and 'id="bill"' in page
    settle_by = timezone.localtime(use.created_at + timezone.timedelta(minutes=30)).strftime("%H:%M")
    assert settle_by in page
    assert Notification.objects.filter(person=person, event="ecode_used").count() == 1


@pytest.mark.django_db
@pytest.mark.embedded
def test_an_emergency_use_says_so_and_how_to_settle(web_client, hospitals):
    person = resident()
    token = token_issue(credential=credential_factory(person=person)).token
    client = web_client(CounterFactory(institution=hospitals[0]))
    page = client.post("/counter/use/", {"token": token, "emergency": "1"}, **FETCH).content.decode()
    assert 'data-emergency="true"' in page and "已按急诊抢救使用" in page
    assert "按急诊抢救结算" in page
    assert CodeEvent.objects.filter(kind="consume", result="ok").count() == 1


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_used_code_is_shown_as_used_with_when_and_where(web_client, hospitals):
    _person, token = _filed_code(hospitals[0])
    operator = CounterFactory(institution=hospitals[0])
    use = ecode_consume(token=token, operator=operator)
    when = timezone.localtime(CodeEvent.objects.get(pk=use.event_id).created_at)

    page = web_client(operator).post("/counter/verify/", {"token": token}, **FETCH).content.decode()
    assert 'data-valid="false"' in page and 'data-code="already_used"' in page
    assert "<h2>此码已被使用</h2>" in page and 'id="use-button"' not in page
    assert when.strftime("%Y-%m-%d %H:%M:%S") in page and hospitals[0].name in page
    assert f'id="r-used-use-id"><strong>{use.use_id}<' in page

    # Another institution learns when, not where.
    other = CounterFactory(institution=hospitals[1])
    page = web_client(other).post("/counter/verify/", {"token": token}, **FETCH).content.decode()
    assert 'data-code="already_used"' in page and "其他机构" in page
    assert hospitals[0].name not in page and 'id="r-used-use-id"' not in page


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.parametrize(
    "language, message",
    [("zh-hans", "操作员账号或密码错误。"), ("en", "Wrong operator username or password.")],
)
def test_a_wrong_counter_password_names_the_operator_account(client, language, message):
    operator = CounterFactory()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.post("/counter/login/", {"identifier": operator.username, "password": "wrong"})
    page = response.content.decode()
    assert response.status_code == 401 and message in page
    assert "手机号" not in page and "phone" not in page.lower().split("<body", 1)[1]


# --- The page in Chromium at 1280×800 ---


@pytest.fixture
def _playwright_thread(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are ordinary blocking ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


@pytest.fixture
def shots(tmp_path):
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        path = target / f"{name}.png"
        page.screenshot(path=str(path), animations="disabled", caret="initial")
        assert path.stat().st_size > 0

    return take


def _fits(page) -> None:
    # Nothing wider than the screen, and the result's actions on the first screen (a counter does not scroll).
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["viewport"]["width"]
    for selector in ("#verdict", "#use-button", "#emergency-button", "#bill"):
        box = page.locator(selector).bounding_box() if page.locator(selector).count() else None
        if box is not None:
            assert box["y"] + box["height"] <= DESKTOP["viewport"]["height"], selector


def _scan(page, token: str) -> None:
    page.fill("#id_token", token)
    page.press("#id_token", "Enter")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_playwright_thread")
def test_the_counter_page_in_chromium_valid_used_no_direct_settlement_and_after_use(live_server, shots):
    data = scenario_data()
    here = data.institutions[0]
    filed = data.person
    approved(filed, destination=DESTINATION, institutions=[here.code], by=data.reviewer)
    filed_token = token_issue(credential=credential_factory(person=filed)).token
    unfiled = resident(name="王建国", birth="19560310")
    unfiled_token = token_issue(credential=credential_factory(person=unfiled)).token
    other_token = token_issue(credential=credential_factory(person=resident(birth="19490101"))).token
    connections.close_all()  # the server's threads get their own connections
    base = live_server.url

    with chromium() as browser:
        page = new_page(browser, DESKTOP)
        # A wrong password names the operator account, not a phone number.
        page.goto(base + "/counter/login/")
        page.fill("#id_identifier", data.counter.username)
        page.fill("#id_password", "not-the-password")
        page.click("button[type=submit].btn.block")
        page.wait_for_selector(".alert.error")
        assert page.inner_text(".alert.error") == "操作员账号或密码错误。"
        shots(page, "13-counter-sign-in-error")
        page.errors.clear()  # (the refused sign-in's 401)

        sign_in(page, base, "/counter/login/", data.counter.username, PASSWORD)
        page.wait_for_url(re.compile(r"/counter/$"))

        # No filing in force here: the page leads with it, and the use is only an emergency action.
        _scan(page, unfiled_token)
        page.wait_for_selector("#verdict[data-settlement-here=false]")
        assert page.inner_text("#verdict h2") == "本机构不能直接结算"
        assert "无有效备案" in page.inner_text("#verdict")
        assert page.locator("#use-button").count() == 0
        emergency = page.locator("#emergency-button")
        assert emergency.is_visible() and "secondary" in emergency.get_attribute("class")
        assert emergency.bounding_box()["width"] < 400  # not a full-width main action
        _fits(page)
        shots(page, "13-counter-no-direct-settlement")

        # A person filed here: valid, with the use as the main action.
        _scan(page, filed_token)
        page.wait_for_selector("#verdict[data-settlement-here=true]")
        assert page.inner_text("#r-name") == filed.masked_name
        assert page.locator("#r-coverage .tag.green").count() == 1
        assert page.locator("#use-button").bounding_box()["width"] > 400
        _fits(page)
        shots(page, "13-counter")

        # After the use: the code is used under a use number, and the bill is still to be settled.
        page.click("#use-button")
        page.wait_for_selector("#verdict[data-used=true]")
        use_id = page.inner_text("#r-use-id").strip()
        assert use_id.isdigit() and page.get_attribute("#bill", "data-use-id") == use_id
        assert page.inner_text("#verdict h2") == "此码已使用，等待结算账单"
        assert "等待结算账单" in page.inner_text("#r-bill-state")
        assert "已用于结算" not in page.inner_text("main")
        _fits(page)
        shots(page, "13-counter-after-use")
        assert page.evaluate("document.activeElement && document.activeElement.name") == "token"

        # The same code scanned again: used (when, here, the use number), not valid.
        _scan(page, filed_token)
        page.wait_for_selector("#verdict[data-valid=false][data-code=already_used]")
        assert page.inner_text("#verdict h2") == "此码已被使用"
        assert page.inner_text("#r-used-use-id") == use_id
        assert here.name in page.inner_text("#r-used-where")
        assert page.locator("#use-button").count() == 0
        _fits(page)
        shots(page, "13-counter-used")

        # An emergency use of the unfiled person's code.
        _scan(page, unfiled_token)
        page.wait_for_selector("#emergency-button")
        page.click("#emergency-button")
        page.wait_for_selector("#verdict[data-used=true][data-emergency=true]")
        assert "急诊" in page.inner_text("#verdict h2")
        _fits(page)

        # The same in English.
        page.click("button[name=language][value=en]")
        page.wait_for_load_state()
        _scan(page, unfiled_token)
        page.wait_for_selector("#verdict[data-code=already_used]")
        assert page.inner_text("#verdict h2") == "Already used"
        assert not re.search(r"[\u4e00-\u9fff]", page.inner_text("#result").replace(here.name, ""))
        _scan(page, other_token)
        page.wait_for_selector("#verdict[data-settlement-here=false]")
        assert page.inner_text("#verdict h2") == "No direct settlement here"
        assert page.inner_text("#emergency-button") == "Use as an emergency"
        # (names of people and places are data, in Chinese)
        words = [page.inner_text(s) for s in ("#verdict", ".next-step", "#emergency")]
        words += page.locator("#result dt").all_inner_texts()
        assert not re.search(r"[\u4e00-\u9fff]", " ".join(words)), words
        _fits(page)
        shots(page, "13-counter-no-direct-settlement-en")
        assert page.errors == [], page.errors


# --- The bill, settled on the counter page (Chromium) ---


def _bill_rules(person):
    """Chengdu's benefit policy for the person's scheme and Shanghai's catalogue (three items, A, B and C)."""
    from tests.settlement import factories as sf

    sf.policy(region_code=person.insured_region_id, scheme=person.scheme)
    sf.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A", province=DESTINATION)
    sf.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B", province=DESTINATION)
    sf.catalogue_item("250203099", "特需病房床位费差价", "C", province=DESTINATION, category="service")


def _add_item(page, query: str, code: str, quantity: str, price: str) -> None:
    page.fill("#bill-search", query)
    page.wait_for_selector(f"#bill-results [role=option][data-code='{code}']")
    page.click(f"#bill-results [role=option][data-code='{code}']")
    row = f"#bill-items tr[data-code='{code}']"
    page.fill(f"{row} input.qty", quantity)
    page.fill(f"{row} input.price", price)


def _split(page, container: str = "#bill-split") -> dict:
    return {
        cell.get_attribute("data-split"): cell.inner_text()
        for cell in page.locator(f"{container} [data-split]").all()
    }


def _no_overflow(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_playwright_thread")
def test_the_counter_page_settles_a_bill_prints_it_and_reverses_it_in_chromium(live_server, shots):
    from settlement.models import Settlement

    from .browser import PHONE

    data = scenario_data()
    here = data.institutions[0]
    person = data.person
    approved(person, destination=DESTINATION, institutions=[here.code], by=data.reviewer)
    _bill_rules(person)
    token = token_issue(credential=credential_factory(person=person)).token
    connections.close_all()
    base = live_server.url

    with chromium() as browser:
        page = new_page(browser, DESKTOP)
        sign_in(page, base, "/counter/login/", data.counter.username, PASSWORD)
        page.wait_for_url(re.compile(r"/counter/$"))

        # Verify, then use.
        _scan(page, token)
        page.wait_for_selector("#verdict[data-settlement-here=true]")
        page.click("#use-button")
        page.wait_for_selector("#bill[data-ready]")
        assert page.is_disabled("#settle-button")
        # The visit type: an inpatient stay asks for the admission date.
        assert page.input_value("#bill-visit-type") == "general_outpatient"
        assert page.locator("#bill-admission").is_hidden()
        page.select_option("#bill-visit-type", "inpatient")
        assert page.locator("#bill-admission").is_visible()
        page.select_option("#bill-visit-type", "general_outpatient")
        assert page.locator("#bill-admission").is_hidden()

        # Items from Shanghai's catalogue, by code and by name; the split appears as they are entered.
        _add_item(page, "XJ01", "XJ01CAA040A001", "20", "25")
        _add_item(page, "他汀", "XC10AAA105A001", "2", "35")
        _add_item(page, "250203", "250203099", "1", "300")
        page.wait_for_selector("#bill-split:not([hidden])")
        page.wait_for_selector("#bill:not([data-previewing])", state="attached")
        page.wait_for_selector("#settle-button:not([disabled])")
        # 甲 500.00 + 乙 70.00 (first share 7.00) + 丙 300.00 = 870.00; eligible 563.00;
        # basic fund (563.00 − 200.00) × 50 % = 181.50; the person pays 688.50.
        split = _split(page)
        assert split["total"] == "¥870.00" and split["basic_fund"] == "¥181.50"
        assert split["person_pays"] == "¥688.50" and split["self_paid"] == "¥300.00"
        amounts = page.locator("#bill-items td.amount").all_inner_texts()
        assert amounts == ["500.00", "70.00", "300.00"]
        assert not Settlement.objects.exists()  # a preview settles nothing
        _no_overflow(page, DESKTOP["viewport"]["width"])
        shots(page, "15-counter-bill-preview")

        # A wrong quantity is refused with the server's words, and nothing can be settled meanwhile.
        page.fill("#bill-items tr[data-code='XC10AAA105A001'] input.qty", "0")
        page.wait_for_selector("#bill-error:not([hidden])[data-code=invalid_quantity]")
        assert "数量必须为正数" in page.inner_text("#bill-error")
        assert page.is_disabled("#settle-button")
        assert page.locator("#bill-items tr.invalid").count() == 1
        shots(page, "15-counter-bill-error")
        page.fill("#bill-items tr[data-code='XC10AAA105A001'] input.qty", "2")
        page.wait_for_selector("#bill-error[hidden]", state="attached")
        page.wait_for_selector("#settle-button:not([disabled])")
        page.errors.clear()  # (the refused previews' 400s)

        # Settle: a double click settles once.
        page.dblclick("#settle-button")
        page.wait_for_selector("#bill[data-done]")
        assert Settlement.objects.count() == 1
        settlement = Settlement.objects.get()
        assert str(settlement.total) == "870.00" and str(settlement.person_pays) == "688.50"
        assert page.inner_text("#bill-number") == settlement.number
        assert _split(page, "#bill-done")["person_pays"] == "¥688.50"
        assert settlement.number in page.inner_text("#r-bill-state")
        _no_overflow(page, DESKTOP["viewport"]["width"])
        shots(page, "15-counter-bill-settled")

        # The receipt: A4 and the 80 mm roll, each laid out for its printer.
        a4 = page.get_attribute("#receipt-a4", "href")
        roll = page.get_attribute("#receipt-80", "href")
        receipt = page.context.new_page()
        receipt.goto(base + a4)
        assert settlement.number in receipt.inner_text("main") and "688.50" in receipt.inner_text(".split")
        shots(receipt, "15-receipt-a4")
        receipt.emulate_media(media="print")
        assert receipt.locator(".no-print").first.is_hidden()
        receipt.emulate_media(media="screen")
        receipt.goto(base + roll)
        assert receipt.locator(".items-narrow").is_visible() and receipt.locator("table.items").is_hidden()
        assert receipt.evaluate("document.querySelector('.receipt').getBoundingClientRect().width") < 320
        shots(receipt, "15-receipt-80mm")
        receipt.close()

        # Reverse it the same day.
        page.click("#reverse-start")
        page.fill("#bill-reverse-reason", "收费项目录入错误")
        page.click("#reverse-confirm")
        page.wait_for_selector("#bill[data-reversed]")
        settlement.refresh_from_db()
        assert settlement.status == "reversed" and settlement.reversal_reason == "收费项目录入错误"
        assert page.inner_text("#bill-done-title") == "已冲正"
        shots(page, "15-counter-bill-reversed")
        assert page.errors == [], page.errors

        # The receipt on a phone (the person's own, or the counter's on a handheld): 390 px wide, no overflow.
        phone = new_page(browser, PHONE)
        sign_in(phone, base, "/login/", data.phone, PASSWORD)
        phone.goto(base + a4)
        assert "已冲正" in phone.inner_text("main") or "冲正" in phone.inner_text(".stamp")
        _no_overflow(phone, PHONE["viewport"]["width"])
        assert phone.locator(".items-narrow").is_visible()
        shots(phone, "15-receipt-phone")
        assert phone.errors == [], phone.errors


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_playwright_thread")
def test_a_pharmacy_settles_on_one_screen_in_english_in_chromium(live_server, shots):
    from reference.models import Institution
    from settlement.models import Settlement

    data = scenario_data()
    pharmacy = Institution.objects.filter(region_id=DESTINATION, kind="pharmacy").settling().first()
    person = data.person
    approved(person, destination=DESTINATION, institutions=[pharmacy.code], by=data.reviewer)
    _bill_rules(person)
    token = token_issue(credential=credential_factory(person=person)).token
    cashier = CounterFactory(institution=pharmacy)
    connections.close_all()
    base = live_server.url

    with chromium() as browser:
        page = new_page(browser, DESKTOP)
        sign_in(page, base, "/counter/login/", cashier.username, PASSWORD)
        page.wait_for_url(re.compile(r"/counter/$"))
        page.click("button[name=language][value=en]")
        page.wait_for_load_state()
        _scan(page, token)
        page.click("#use-button")
        page.wait_for_selector("#bill[data-ready]")
        # One visit type: nothing to choose, the bill starts at the items.
        assert page.locator("#bill-visit-type").count() == 0
        assert page.inner_text(".bill-visit .fixed") == "General outpatient"
        _add_item(page, "XJ01", "XJ01CAA040A001", "10", "25")
        page.wait_for_selector("#bill-split:not([hidden])")
        page.wait_for_selector("#bill:not([data-previewing])", state="attached")
        page.wait_for_selector("#settle-button:not([disabled])")
        # Level 0: (250.00 − 100.00) × 60 % = 90.00 from the fund, 160.00 paid by the person.
        split = _split(page)
        assert split["fund_total"] == "¥90.00" and split["person_pays"] == "¥160.00"
        page.fill("#bill-items input.price", "-1")
        page.wait_for_selector("#bill-error:not([hidden])[data-code=invalid_price]")
        assert "The unit price cannot be negative." in page.inner_text("#bill-error")
        page.fill("#bill-items input.price", "25")
        page.wait_for_selector("#settle-button:not([disabled])")
        page.errors.clear()  # (the refused preview's 400)
        # Every word on the bill is English (item names are the catalogue's data, in Chinese).
        words = page.locator("#bill .label, #bill th, #bill-split dt, #bill-split h4").all_inner_texts()
        words += [
            page.inner_text("#settle-button"),
            page.inner_text("#verdict"),
            page.inner_text(".bill-title"),
        ]
        words += [page.get_attribute("#bill-search", "placeholder")]
        assert not re.search(r"[\u4e00-\u9fff]", " ".join(words)), words
        _no_overflow(page, DESKTOP["viewport"]["width"])
        shots(page, "15-counter-pharmacy-en")
        page.click("#settle-button")
        page.wait_for_selector("#bill[data-done]")
        assert Settlement.objects.get().institution_id == pharmacy.pk
        assert page.inner_text("#verdict h2") == "Code used: the bill is settled"
        assert page.errors == [], page.errors
