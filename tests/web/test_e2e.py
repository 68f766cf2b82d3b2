"""The whole journey in headless Chromium: a new person files through the wizard, a reviewer approves in admin,
the person shows the e-code and a counter verifies and uses it once."""

import re

import pytest

from .browser import (
    DESKTOP,
    DESTINATION,
    PHONE,
    chromium,
    new_page,
    scenario_data,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are ordinary blocking ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


def test_person_files_reviewer_approves_and_counter_uses_the_code_once(live_server):
    data = scenario_data()
    base = live_server.url
    first, second = data.institutions[0], data.institutions[1]

    with chromium() as browser:
        person = new_page(browser, PHONE)

        # A new person signs in and lands on the home page, with no filing in force.
        sign_in(person, base, "/login/", data.phone, data.password)
        assert person.url == base + "/"
        assert person.locator(".hero").is_visible()

        # The wizard: group → destination → two institutions → dates → commitment → review.
        person.click("a[href='/filings/new/']")
        person.wait_for_url(re.compile(r"/filings/new/group/$"))
        person.click("label.choice:has(input[value=resident])")
        person.click(".wizard-actions button[type=submit]")
        person.wait_for_url(re.compile(r"/filings/new/destination/$"))
        person.fill("#region-search", "上海")  # searched as typed, from the regions API
        person.click("#region-results button[role=option]")
        person.wait_for_selector("#preview-title")  # the preview of what filing there takes
        assert person.input_value("#id_destination") == DESTINATION
        assert person.locator("#preview-title").is_visible()
        person.click(".wizard-actions button[type=submit]")
        person.wait_for_url(re.compile(r"/filings/new/institutions/"))
        # Searched as typed, from the institutions API: the list narrows to the matching names.
        person.fill("#id_q", second.name)
        person.wait_for_selector(f"#institution-results button[value={first.code}]", state="detached")
        for institution in (second, first):
            person.click(f"button[name=add][value={institution.code}]")
            person.wait_for_load_state()
        assert person.locator("#chosen-list [data-code]").count() == 2
        person.click(".wizard-actions button[name=next]")
        person.wait_for_url(re.compile(r"/filings/new/dates/$"))

        # A half-finished wizard survives a reload.
        person.reload()
        assert person.locator(".steps li.current").count() == 1
        assert "/filings/new/dates/" in person.url
        person.click(".wizard-actions button[type=submit]")
        person.wait_for_url(re.compile(r"/filings/new/materials/$"))
        person.click("label.choice:has(#id_commitment)")
        person.click(".wizard-actions button[type=submit]")
        person.wait_for_url(re.compile(r"/filings/new/review/$"))
        assert first.name in person.inner_text("main") and second.name in person.inner_text("main")
        person.click("#submit-filing")
        person.wait_for_url(re.compile(r"/filings/\d+/$"))
        assert person.get_attribute("#filing-status", "data-status") == "submitted"
        filing_url = person.url
        filing_id = int(re.search(r"/filings/(\d+)/$", filing_url).group(1))

        # The reviewer of the insured area approves it through the admin pages.
        reviewer = new_page(browser, DESKTOP)
        reviewer.goto(base + "/admin/login/")
        reviewer.fill("#id_username", data.reviewer.username)
        reviewer.fill("#id_password", data.password)
        reviewer.click("input[type=submit]")
        reviewer.wait_for_url(re.compile(r"/admin/$"))
        reviewer.goto(base + "/admin/filing/filing/")
        reviewer.click(f"a[href$='/admin/filing/filing/{filing_id}/change/']")
        reviewer.click(f"a[href$='/admin/filing/filing/{filing_id}/approve/']")
        reviewer.click("input[type=submit].default")
        reviewer.wait_for_url(re.compile(rf"/admin/filing/filing/{filing_id}/change/$"))
        assert reviewer.locator(".messagelist .success").count() == 1

        # The person sees the approval, with a notice, and opens the e-code.
        person.goto(filing_url)
        assert person.get_attribute("#filing-status", "data-status") == "approved"
        assert person.locator(".tabbar .badge").is_visible()
        person.goto(base + "/ecode/")
        person.click("form[action='/ecode/activate/'] button")
        person.wait_for_selector("#qr[data-token]")
        assert person.locator("#qr-img").is_visible()
        token = person.get_attribute("#qr", "data-token")
        assert re.fullmatch(r"\d{227}", token)

        # The counter verifies the code read from the page, uses it, and the code is then shown as used.
        counter = new_page(browser, DESKTOP)
        sign_in(counter, base, "/counter/login/", data.counter.username, data.password)
        counter.wait_for_url(re.compile(r"/counter/$"))
        assert counter.evaluate("document.activeElement && document.activeElement.name") == "token"
        counter.keyboard.type(token)
        counter.keyboard.press("Enter")
        counter.wait_for_selector("#verdict[data-valid=true]")
        assert counter.inner_text("#r-name") == data.person.masked_name
        assert counter.locator("#r-coverage .tag.green").count() == 1
        counter.click("#use-button")
        counter.wait_for_selector("#r-use-id")
        assert counter.inner_text("#r-use-id").strip().isdigit()

        counter.fill("#id_token", token)
        counter.press("#id_token", "Enter")
        counter.wait_for_selector("#verdict[data-valid=false][data-code=already_used]")
        assert counter.locator("#use-button").count() == 0

        # The person's e-code page lists the use.
        person.goto(base + "/ecode/")
        assert person.locator("text=" + first.name).count() >= 1

        for page in (person, reviewer, counter):
            assert page.errors == [], page.errors
