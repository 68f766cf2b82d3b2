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
