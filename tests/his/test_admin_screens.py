"""The admin pages the HIS interface adds, in Chromium at 1280 px: the reviewer's filing page with the hospital's
referral, and a HIS credential just issued (the secret shown once). PNGs go to HIS_SCREENSHOTS when set."""

import os
from pathlib import Path

import pytest

from filing.models import Filing
from his.models import HisTerminal
from tests.factories import PASSWORD, ReviewerFactory
from tests.his.helpers import world
from tests.his.test_referral import hospital_client, referral
from tests.settlement import factories as f
from tests.web.browser import DESKTOP, chromium, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _playwright_thread(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


def _admin_sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_admin_screens_for_the_his_interface(live_server, client, tmp_path):
    out = Path(os.environ.get("HIS_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    person, *_rest = world(filed=False)
    home = hospital_client(client, f.hospital(region_code="510100", area="510104"))
    psn_no = home.call(
        "1101",
        {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.id_number, "psn_name": person.name}},
    )[0]["output"]["baseinfo"]["psn_no"]
    serial = home.call("2501", referral(psn_no))[0]["output"]["result"]["trt_dcla_detl_sn"]
    filing = Filing.objects.get(serial=serial)
    reviewer = ReviewerFactory(region_code="510100")
    from accounts.models import User

    User.objects.create_superuser("root", password=PASSWORD, role="admin")
    operator, _key = f.counter()

    with chromium() as browser:
        page = new_page(browser, DESKTOP)
        _admin_sign_in(page, live_server.url, reviewer.username)
        page.goto(f"{live_server.url}/admin/filing/filing/{filing.pk}/change/")
        assert page.get_by_text("C34.900").count() >= 1 and page.get_by_text("同意转诊").count() >= 1
        _fits(page)
        page.screenshot(path=str(out / "37-admin-referral-by-hospital.png"), full_page=True)

        page = new_page(browser, DESKTOP)
        _admin_sign_in(page, live_server.url, "root")
        page.goto(f"{live_server.url}/admin/his/histerminal/add/")
        page.select_option("#id_operator", str(operator.pk))
        page.fill("#id_name", "收费窗口 HIS")
        page.click("input[name=_save]")
        page.wait_for_load_state()
        terminal = HisTerminal.objects.get(operator=operator)
        assert page.get_by_text(terminal.secret, exact=False).count() == 1
        _fits(page)
        page.screenshot(path=str(out / "38-admin-his-credential-issued.png"), full_page=True)
