"""The person's phone pages with Django's test client: what the e-code page, the receipt and the filing wizard
say, and that the wizard keeps nothing personal in the session."""

import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile

from filing.dates import today
from filing.models import Filing
from tests.factories import make_id_number, make_phone
from tests.filing.factories import png_bytes

from .factories import DESTINATION, beijing_hospitals, chengdu_policy, resident

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


# --- The wizard ---


@pytest.fixture
def person():
    chengdu_policy()
    return resident()


@pytest.fixture
def hospitals():
    return beijing_hospitals()


def to_materials(client, hospitals, *, address="", institutions=0):
    client.post("/filings/new/group/", {"group": "resident"})
    client.post("/filings/new/destination/", {"destination": DESTINATION, "address": address})
    for hospital in hospitals[:institutions]:
        client.post("/filings/new/institutions/", {"add": hospital.code})
    mode = "pick" if institutions else "all"
    assert client.post("/filings/new/institutions/", {"mode": mode, "next": "1"})["Location"].endswith(
        "/dates/"
    )
    assert client.post("/filings/new/dates/", {"start_date": today().isoformat()})["Location"].endswith(
        "/materials/"
    )


def test_next_with_no_group_chosen_says_what_to_do(web_client, person):
    response = web_client(person.user).post("/filings/new/group/", {})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="step-error"' in page and "请选择符合您情况的类别。" in page


def test_next_with_no_destination_chosen_says_what_to_do(web_client, person):
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    response = client.post("/filings/new/destination/", {"destination": "", "address": "朝阳区"})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="step-error"' in page and "请选择就医的城市或省份。" in page
    assert 'value="朝阳区"' in page  # what was typed stays


def test_a_look_at_a_destination_keeps_the_typed_address_and_saves_nothing(web_client, person):
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    response = client.post(
        "/filings/new/destination/", {"destination": DESTINATION, "address": "朝阳区建国路 1 号", "look": "1"}
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'id="preview-title"' in page
    assert 'value="朝阳区建国路 1 号"' in page
    assert not Filing.objects.filter(person=person).exists()
    assert client.get("/filings/new/")["Location"] == "/filings/new/destination/"


def test_materials_step_says_what_is_missing_and_does_not_let_the_person_pass(web_client, person, hospitals):
    client = web_client(person.user)
    to_materials(client, hospitals)
    response = client.post("/filings/new/materials/", {"action": "next"})
    assert response["Location"] == "/filings/new/materials/"
    page = client.get("/filings/new/materials/").content.decode()
    assert 'id="step-error"' in page and "居住证或其他长期居住证明" in page.split('id="step-error"')[1][:300]
    # The review cannot be reached while a required document is missing.
    assert client.get("/filings/new/review/")["Location"] == "/filings/new/materials/"


def test_review_says_what_is_missing_instead_of_promising_a_decision(web_client, person, hospitals):
    client = web_client(person.user)
    to_materials(client, hospitals)
    upload = SimpleUploadedFile("permit.png", png_bytes(), content_type="image/png")
    client.post("/filings/new/materials/", {"action": "upload", "kind": "residence_proof", "upload": upload})
    assert client.post("/filings/new/materials/", {"action": "next"})["Location"] == "/filings/new/review/"
    filing = Filing.objects.get(person=person)
    page = client.get("/filings/new/review/").content.decode()
    assert 'id="review-missing"' not in page and "个工作日内" in page
    # The document is removed afterwards (from the filing's own page): the review says what is missing.
    document = filing.documents.get()
    client.post(f"/filings/{filing.pk}/documents/{document.pk}/remove/")
    page = client.get("/filings/new/review/").content.decode()
    missing = page.split('id="review-missing"')[1][:600]
    assert "居住证或其他长期居住证明" in missing and "个工作日内" not in page
    assert "无</dd>" not in page


def test_where_every_networked_institution_settles_picks_are_favourites_and_the_page_says_so(
    web_client, person, hospitals
):
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    client.post("/filings/new/destination/", {"destination": DESTINATION})
    page = client.get("/filings/new/institutions/").content.decode()
    # No choice that claims to limit where the person settles: there is none to make.
    assert "选择定点医药机构" not in page and 'name="mode"' not in page
    assert "北京市所有联网定点医药机构均可直接结算" in page
    client.post("/filings/new/institutions/", {"add": hospitals[0].code})
    assert client.post("/filings/new/institutions/", {"next": "1"})["Location"] == "/filings/new/dates/"
    filing = Filing.objects.get(person=person)
    assert filing.all_institutions is True
    assert [p.institution.code for p in filing.picks.all()] == [hospitals[0].code]


def test_where_the_insured_area_requires_picks_the_filing_settles_only_there(web_client, hospitals):
    chengdu_policy(pick_required=True)
    person = resident()
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    client.post("/filings/new/destination/", {"destination": DESTINATION})
    response = client.post("/filings/new/institutions/", {"next": "1"})
    assert response.status_code == 200 and "选择 1 至 4 家" in response.content.decode()
    client.post("/filings/new/institutions/", {"add": hospitals[0].code})
    assert client.post("/filings/new/institutions/", {"next": "1"})["Location"] == "/filings/new/dates/"
    assert Filing.objects.get(person=person).all_institutions is False


def test_the_session_holds_nothing_the_person_typed(web_client, person, hospitals):
    client = web_client(person.user)
    address = "朝阳区建国路 88 号 3 单元"
    to_materials(client, hospitals, address=address, institutions=1)
    proxy = {"name": "李小明", "id_number": make_id_number(), "phone": make_phone()}
    response = client.post(
        "/filings/new/materials/",
        {
            "action": "next",
            "commitment": "on",
            "proxy-enabled": "on",
            **{f"proxy-{k}": v for k, v in proxy.items()},
            "proxy-relation": "child",
        },
    )
    assert response["Location"] == "/filings/new/review/"
    filing = Filing.objects.get(person=person)
    assert filing.destination_address == address and filing.proxy_name == proxy["name"]
    stored = [
        (s.session_data, json.dumps(s.get_decoded(), ensure_ascii=False)) for s in Session.objects.all()
    ]
    assert stored
    for raw, decoded in stored:
        for secret in (address, "建国路", *proxy.values()):
            assert secret not in raw and secret not in decoded
        assert "address" not in decoded and "proxy" not in decoded


# --- One door: the pages answer as the apps' own views do ---


def test_the_code_refresh_refuses_in_the_projects_one_error_shape(web_client):
    response = web_client(resident().user).get("/ecode/current.json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "not_activated",
        "message": "请先激活医保电子凭证。",
        "fields": {},
    }


def test_a_document_is_served_by_the_filing_apps_own_response(web_client, person, hospitals):
    client = web_client(person.user)
    to_materials(client, hospitals)
    upload = SimpleUploadedFile("permit.png", png_bytes(), content_type="image/png")
    client.post("/filings/new/materials/", {"action": "upload", "kind": "residence_proof", "upload": upload})
    filing = Filing.objects.get(person=person)
    response = client.get(f"/filings/{filing.pk}/documents/{filing.documents.get().pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff" and response["Cache-Control"].startswith(
        "private, no-store"
    )


def test_notice_previews_in_chinese_have_no_stray_space_after_a_full_stop(web_client):
    from notifications.services import notification_create

    person = resident()
    notification_create(person=person, event="ecode_activated", context={})
    page = web_client(person.user).get("/notices/").content.decode()
    preview = re.search(r'<span class="body"[^>]*>([^<]+)</span>', page).group(1)
    assert "。" in preview and not re.search(r"[。，：]\s", preview)  # a line break shows as a space too


def test_a_notice_preview_keeps_label_lines_apart(web_client):
    from notifications.services import notification_create

    person = resident()
    notification_create(
        person=person,
        event="filing_submitted",
        context={"filing_number": "BA510100202612010000001", "group": "resident"},
    )
    page = web_client(person.user).get("/notices/").content.decode()
    preview = re.search(r'<span class="body"[^>]*>([^<]+)</span>', page).group(1)
    assert "BA510100202612010000001；备案类型" in preview
