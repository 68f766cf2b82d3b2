"""The reviewer's admin in headless Chromium at 1280×800: every list fits with its important columns in view,
everything the reviewer reads is in their language, the history reads in words, a search by number reaches no
address, and the site icon is there. Screenshots for the README with UPDATE_SCREENSHOTS=1."""

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.web.browser import DESKTOP, chromium, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "docs" / "screenshots"
ENGLISH = {**DESKTOP, "locale": "en-US"}
# Each list a reviewer uses, and the column that must be in view (the rightmost one: all of them are).
LISTS = {
    "filings waiting for review": ("/admin/filing/filing/", "deadline"),
    "every filing": ("/admin/filing/filing/?status=all", "deadline"),
    "settlements": ("/admin/settlement/settlement/", "status"),
    "supervision flags": ("/admin/settlement/supervisionflag/", "reviewed_by"),
    "people": ("/admin/accounts/insuredperson/", "status"),
    "e-codes": ("/admin/ecode/credential/", "updated"),
}


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from ecode import keys

    keys._forget()
    yield
    keys._forget()


@pytest.fixture
def shots(tmp_path):
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    def take(page_or_part, name: str):
        path = target / f"{name}.png"
        page_or_part.screenshot(path=str(path), animations="disabled", caret="initial")
        assert path.stat().st_size > 0

    return take


def reviewers_area(settings):
    """Chengdu's reviewer with a queue of five filings (one overdue, one due today), one person with an approved
    filing, a settlement in Beijing and the supervision flag it raised, and everything it took in the history."""
    from filing.dates import today
    from filing.models import Filing
    from settlement.services import settlement_create, supervision_check
    from tests.factories import PASSWORD, ReviewerFactory, person_factory
    from tests.filing.factories import policy, submitted
    from tests.settlement import factories as f

    settings.SETTLEMENT_SUPERVISION = {"MAX_SETTLEMENTS_PER_PERSON_PER_DAY": 0}
    filing_policy = policy("510100", instant_approval=False)
    benefit_policy = f.policy(region_code="510100")
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    operator, _key = f.counter()
    names = ["欧阳振华", "李秀英", "王建国", "张伟", "陈志强"]
    trips = [
        ("resident", "310000"),
        ("worker", "440100"),
        ("temporary", "330100"),
        ("resident", "460200"),
        ("worker", "110000"),
    ]
    queue = [
        submitted(person_factory(name=name, insured_region="510100"), group=group, destination=destination)
        for name, (group, destination) in zip(names, trips, strict=True)
    ]
    Filing.objects.filter(pk=queue[0].pk).update(review_deadline=today() - dt.timedelta(days=2))
    Filing.objects.filter(pk=queue[1].pk).update(review_deadline=today())
    settled = person_factory(name="刘桂兰", insured_region="510100")
    filing = f.filed(settled)
    settlement, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(settled, operator),
        items=f.items(("XJ01CAA040A001", 2, "25.00")),
    )
    supervision_check(settlement_id=settlement.pk)
    reviewer = ReviewerFactory(region_code="510100")
    return {
        "reviewer": reviewer,
        "password": PASSWORD,
        "settled": settled,
        "filing": filing,
        "queue": queue,
        "policy": benefit_policy,
        "filing_policy": filing_policy,
    }


def signed_in(browser, base, data, device=DESKTOP):
    page = new_page(browser, device)
    page.goto(base + "/admin/login/")
    page.fill("#id_username", data["reviewer"].username)
    page.fill("#id_password", data["password"])
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    return page


FIT = """(column) => {
  const results = document.querySelector('#changelist .results');
  const table = document.querySelector('#result_list');
  const head = document.querySelector('#result_list thead th.column-' + column);
  const cells = [...document.querySelectorAll('#result_list td.field-' + column)];
  const box = results.getBoundingClientRect();
  return {
    page: [document.documentElement.scrollWidth, window.innerWidth],
    results: [results.scrollWidth, results.clientWidth],
    table: Math.round(table.getBoundingClientRect().width),
    box: [Math.round(box.left), Math.round(box.right)],
    column: [...(head ? [head] : []), ...cells].map(e => Math.round(e.getBoundingClientRect().right)),
    rows: cells.length,
  };
}"""


@pytest.mark.parametrize("device", [DESKTOP, ENGLISH], ids=["chinese", "english"])
def test_every_list_a_reviewer_uses_fits_1280_with_its_columns_in_view(live_server, settings, shots, device):
    data = reviewers_area(settings)
    chinese = device is DESKTOP
    with chromium() as browser:
        page = signed_in(browser, live_server.url, data, device)
        for name, (path, column) in LISTS.items():
            page.goto(live_server.url + path)
            fit = page.evaluate(FIT, column)
            assert fit["rows"] >= 1, (name, fit)
            assert fit["page"][0] <= fit["page"][1], (name, fit)  # no sideways scrolling of the page
            assert fit["results"][0] <= fit["results"][1], (name, fit)  # nor of the table in its box
            assert max(fit["column"]) <= min(fit["box"][1], 1280), (name, fit)
            assert fit["column"] and len(fit["column"]) == fit["rows"] + 1, (name, fit)
            if name == "filings waiting for review" and chinese:
                deadlines = page.locator("#result_list td.field-deadline").all_inner_texts()
                assert any("已超期 2 天" in text for text in deadlines)
                assert any("今日到期" in text for text in deadlines)
                shots(page, "30-admin-queue")
        assert not page.errors, page.errors


CHROME = """() => {
  const texts = (selector) => [...document.querySelectorAll(selector)].map(e => e.innerText.trim()).filter(Boolean);
  return [
    ...texts('#site-name'), ...texts('.breadcrumbs a'), ...texts('#content h1'), ...texts('fieldset h2'), ...texts('.inline-group h2'),
    ...texts('caption'), ...texts('#content-main th[scope=row] a'), ...texts('#result_list thead th'),
    ...texts('#changelist-filter h2'), ...texts('#changelist-filter h3'), ...texts('select[name=action] option'),
    ...texts('#searchbar_helptext'), ...texts('#changelist-search input[type=submit]'),
    ...texts('fieldset .form-row label'), ...texts('.inline-group thead th'), ...texts('.object-tools a'),
  ].concat([...document.querySelectorAll('input[type=submit]')].map(e => e.value));
}"""


def _pages(data):
    return [
        "/admin/",
        *(path for path, _column in LISTS.values()),
        f"/admin/filing/filing/{data['filing'].pk}/change/",
        f"/admin/filing/filing/{data['queue'][0].pk}/change/",
        f"/admin/accounts/insuredperson/{data['settled'].pk}/change/",
        "/admin/settlement/accumulator/",
        f"/admin/settlement/policy/{data['policy'].pk}/change/",
        f"/admin/filing/filingpolicy/{data['filing_policy'].pk}/change/",
    ]


def test_admin_speaks_chinese_by_default_and_english_to_an_english_browser(live_server, settings):
    data = reviewers_area(settings)
    with chromium() as browser:
        chinese = signed_in(browser, live_server.url, data)
        chinese.goto(live_server.url + "/admin/")
        apps = chinese.locator("#content-main caption").all_inner_texts()
        assert {"异地就医备案", "结算与清算", "人员与角色", "电子凭证"} <= {a.strip() for a in apps}
        assert chinese.locator("#site-name").inner_text().strip() == "医保跨省直接结算 · 经办管理"
        chinese.goto(live_server.url + "/admin/filing/filing/")
        assert chinese.locator(".breadcrumbs").inner_text().split(" › ") == ["首页", "异地就医备案", "备案"]
        assert chinese.locator("#content h1").inner_text() == "待审核的备案"
        for path in _pages(data):
            chinese.goto(live_server.url + path)
            english_words = [t for t in chinese.evaluate(CHROME) if re.search(r"[A-Za-z]{3,}", t)]
            assert not english_words, (path, english_words)

        english = signed_in(browser, live_server.url, data, ENGLISH)
        english.goto(live_server.url + "/admin/filing/filing/")
        assert english.locator(".breadcrumbs").inner_text().split(" › ") == ["Home", "Filing", "Filings"]
        assert english.locator("#content h1").inner_text() == "Filings waiting for review"
        for path in _pages(data):
            english.goto(live_server.url + path)
            chinese_words = [t for t in english.evaluate(CHROME) if re.search(r"[\u4e00-\u9fff]", t)]
            assert not chinese_words, (path, chinese_words)
        assert not chinese.errors and not english.errors, chinese.errors + english.errors


def test_the_filing_history_reads_in_words(live_server, settings, shots):
    data = reviewers_area(settings)
    with chromium() as browser:
        page = signed_in(browser, live_server.url, data)
        page.goto(live_server.url + f"/admin/filing/filing/{data['filing'].pk}/change/")
        history = page.locator(".inline-group").last
        history.scroll_into_view_if_needed()
        rows = history.evaluate(
            """el => [...el.querySelectorAll('tbody tr.has_original')]
                .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()).filter(Boolean))
                .filter(cells => cells.length)"""
        )
        events = [row[1:4] for row in rows]
        assert events == [
            ["参保人本人", "创建草稿", "草稿"],
            ["参保人本人", "提交审核", "草稿 → 已提交"],
            [data["filing"].decided_by.username, "审核通过", "已提交 → 已通过"],
        ], rows
        assert "filing." not in history.inner_text()
        shots(history, "31-admin-filing-history")
        english = signed_in(browser, live_server.url, data, ENGLISH)
        english.goto(live_server.url + f"/admin/filing/filing/{data['filing'].pk}/change/")
        text = english.locator(".inline-group").last.inner_text()
        for words in ("Draft created", "Submitted for review", "Approved", "Draft → Submitted"):
            assert words in text, text


@pytest.mark.embedded
def test_a_search_by_number_reaches_no_address(live_server, settings):
    data = reviewers_area(settings)
    person = data["settled"]
    with chromium() as browser:
        page = signed_in(browser, live_server.url, data)
        sent = []
        page.on("request", lambda request: sent.append((request.url, request.headers.get("referer", ""))))
        for path in ("/admin/filing/filing/?status=all", "/admin/settlement/settlement/"):
            for number in (person.id_number, person.phone):
                page.goto(live_server.url + path)
                assert page.get_attribute("#changelist-search", "method") == "post"
                page.fill("#searchbar", number)
                page.click("#changelist-search input[type=submit]")
                page.wait_for_load_state()
                assert "ps=" in page.url
                assert page.locator("#result_list tbody tr").count() == 1
                assert page.input_value("#searchbar") == ""
                # Sorting and paging keep the search (its token), never the number.
                page.click("#result_list thead th.sortable a >> nth=0")
                page.wait_for_load_state()
                assert "ps=" in page.url and page.locator("#result_list tbody tr").count() == 1
        leaks = [
            entry for entry in sent for number in (person.id_number, person.phone) if number in str(entry)
        ]
        assert not leaks, leaks
        assert not page.errors, page.errors


def test_the_site_icon_is_served_on_admin_and_the_phone_pages(live_server):
    with chromium() as browser:
        page = new_page(browser, DESKTOP)
        page.goto(live_server.url + "/admin/login/")
        icon = page.locator("link[rel=icon][href$='favicon.ico']").get_attribute("href")
        assert page.request.get(live_server.url + icon).status == 200
        assert page.request.get(live_server.url + "/favicon.ico").status == 200
        page.goto(live_server.url + "/login/")
        assert page.locator("link[rel=icon][href$='favicon.ico']").count() == 1
        assert not page.errors, page.errors
