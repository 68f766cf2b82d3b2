"""The pages with Django's test client: who may open what, what the person and the counter see, and that the
filing wizard explains refusals on the step where the choice was made and survives a reload."""

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.choices import PersonStatus
from ecode.services import credential_suspend, token_issue
from filing.choices import FilingStatus
from filing.dates import today
from filing.models import Filing
from filing.services import filing_reject, filing_submit
from notifications.models import Notification
from tests.ecode.factories import credential_factory
from tests.factories import PASSWORD, CounterFactory, InstitutionFactory, ReviewerFactory, person_factory
from tests.filing.factories import approved, draft, png_bytes, submitted, with_document

from .factories import DESTINATION, INSURED, beijing_hospitals, chengdu_policy, resident

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

PERSON_PAGES = ["/", "/me/", "/notices/", "/ecode/", "/filings/", "/filings/new/group/", "/settlements/"]


@pytest.fixture
def person():
    chengdu_policy()
    return resident()


@pytest.fixture
def hospitals():
    return beijing_hospitals()


def walk_to_dates(client, hospitals, *, group="resident", institutions=2):
    assert client.post("/filings/new/group/", {"group": group}).status_code == 302
    assert client.post("/filings/new/destination/", {"destination": DESTINATION}).status_code == 302
    for hospital in hospitals[:institutions]:
        client.post("/filings/new/institutions/", {"add": hospital.code})
    response = client.post(
        "/filings/new/institutions/", {"mode": "pick" if institutions else "all", "next": "1"}
    )
    assert response["Location"] == "/filings/new/dates/"


def walk_to_review(client, hospitals, **kwargs):
    walk_to_dates(client, hospitals, **kwargs)
    response = client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    assert response["Location"] == "/filings/new/materials/"
    response = client.post("/filings/new/materials/", {"action": "next", "commitment": "on"})
    assert response["Location"] == "/filings/new/review/"


# --- Access ---


@pytest.mark.parametrize("url", PERSON_PAGES)
def test_person_pages_send_anonymous_visitors_to_sign_in(web_client, url):
    response = web_client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_counter_page_sends_anonymous_visitors_to_the_counter_sign_in(web_client):
    response = web_client().get("/counter/")
    assert response["Location"].startswith("/counter/login/?next=")


@pytest.mark.parametrize("url", PERSON_PAGES[1:] + ["/ecode/current.json"])
def test_counter_operator_cannot_open_person_pages(web_client, url):
    client = web_client(CounterFactory())
    assert client.get(url).status_code == 403


def test_counter_operator_is_sent_from_home_to_the_counter(web_client):
    assert web_client(CounterFactory()).get("/")["Location"] == "/counter/"


@pytest.mark.parametrize("url", ["/counter/"])
def test_person_and_reviewer_cannot_open_the_counter(web_client, person, url):
    assert web_client(person.user).get(url).status_code == 403
    assert web_client(ReviewerFactory()).get(url).status_code == 403
    assert web_client(person.user).post("/counter/verify/", {"token": "1" * 227}).status_code == 403


def test_person_cannot_see_another_persons_filing_or_notice(web_client, person, hospitals):
    other = person_factory(insured_region=INSURED)
    filing = submitted(other, destination=DESTINATION)
    notice = Notification.objects.filter(person=other).first()
    client = web_client(person.user)
    assert client.get(f"/filings/{filing.pk}/").status_code == 404
    assert client.post(f"/filings/{filing.pk}/cancel/").status_code == 404
    assert client.get(f"/notices/{notice.pk}/").status_code == 404
    assert client.get(f"/filings/new/?draft={filing.pk}").status_code == 404
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SUBMITTED


def test_person_cannot_open_or_remove_another_persons_document(web_client, person):
    other = person_factory(insured_region=INSURED)
    filing = draft(other, destination=DESTINATION)
    document = with_document(filing, "residence_proof")
    url = f"/filings/{filing.pk}/documents/{document.pk}/"
    assert web_client(other.user).get(url).status_code == 200
    client = web_client(person.user)
    assert client.get(url).status_code == 404
    assert client.post(url + "remove/").status_code == 404
    assert filing.documents.filter(pk=document.pk).exists()


# --- Sign-in ---


def test_person_signs_in_with_phone_and_password(web_client, person):
    client = web_client()
    response = client.post("/login/", {"identifier": person.phone, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_with_a_message(web_client, person):
    response = web_client().post("/login/", {"identifier": person.phone, "password": "wrong"})
    assert response.status_code == 401
    assert "手机号码或密码错误。" in response.content.decode()  # Chinese by default


def test_counter_credentials_are_refused_on_the_person_sign_in_and_vice_versa(web_client, person):
    operator = CounterFactory()
    response = web_client().post("/login/", {"identifier": operator.username, "password": PASSWORD})
    assert response.status_code == 401
    response = web_client().post("/counter/login/", {"identifier": person.phone, "password": PASSWORD})
    assert response.status_code == 401
    response = web_client().post("/counter/login/", {"identifier": operator.username, "password": PASSWORD})
    assert response["Location"] == "/counter/"


def test_sign_in_ignores_a_next_url_on_another_site(web_client, person):
    response = web_client().post(
        "/login/", {"identifier": person.phone, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_sign_out_needs_a_post(web_client, person):
    client = web_client(person.user)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/me/").status_code == 302


# --- Language ---


def test_language_switch_is_kept_in_the_cookie_and_on_the_account(web_client, person):
    client = web_client(person.user)
    response = client.post("/language/", {"language": "en", "next": "/me/"})
    assert response["Location"] == "/me/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    person.user.refresh_from_db()
    assert person.user.language == "en"
    assert '<html lang="en">' in client.get("/me/").content.decode()
    client.post("/language/", {"language": "zh-hans", "next": "/me/"})
    assert '<html lang="zh-Hans">' in client.get("/me/").content.decode()
    person.user.refresh_from_db()
    assert person.user.language == "zh-hans"


def test_signing_in_brings_back_the_accounts_language(web_client, person):
    person.user.language = "en"
    person.user.save()
    client = web_client()
    response = client.post("/login/", {"identifier": person.phone, "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_a_language_chosen_before_signing_in_is_kept_on_the_account(web_client, person):
    client = web_client()
    client.post("/language/", {"language": "en", "next": "/login/"})
    client.post("/login/", {"identifier": person.phone, "password": PASSWORD})
    person.user.refresh_from_db()
    assert person.user.language == "en"


def test_chinese_is_the_default_language(web_client, person):
    assert '<html lang="zh-Hans">' in web_client(person.user).get("/").content.decode()


# --- Security headers and personal data ---


def test_pages_send_a_content_security_policy_without_third_party_hosts(web_client, person):
    response = web_client(person.user).get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "http" not in policy
    assert "<script>" not in response.content.decode()  # no inline scripts
    assert re.findall(r'(?:src|href)="(https?:)?//', response.content.decode()) == []


def test_pages_show_personal_data_only_masked(web_client, person, hospitals):
    approved(person, destination=DESTINATION, institutions=[hospitals[0].code])
    credential_factory(person=person)
    client = web_client(person.user)
    for url in ["/", "/me/", "/ecode/", "/filings/", f"/filings/{person.filings.get().pk}/"]:
        page = client.get(url).content.decode()
        assert person.name not in page, url
        assert person.id_number not in page, url
        assert person.phone not in page, url
    assert person.masked_name in client.get("/").content.decode()


# --- Home, notices ---


def test_home_shows_the_filing_in_force_and_unread_notices(web_client, person, hospitals):
    approved(person, destination=DESTINATION)
    page = web_client(person.user).get("/").content.decode()
    assert "北京市" in page
    assert 'class="badge"' in page


def test_opening_a_notice_marks_it_read(web_client, person):
    submitted(person, destination=DESTINATION)
    notice = Notification.objects.get(person=person)
    client = web_client(person.user)
    assert "unread" in client.get("/notices/").content.decode()
    response = client.get(f"/notices/{notice.pk}/")
    assert response.status_code == 200
    assert notice.inbox_message.title in response.content.decode()
    notice.refresh_from_db()
    assert notice.is_read


def test_mark_all_notices_read(web_client, person, hospitals):
    approved(person, destination=DESTINATION)
    client = web_client(person.user)
    client.post("/notices/read-all/")
    assert not Notification.objects.filter(person=person, read_at__isnull=True).exists()


# --- E-code ---


def test_ecode_page_offers_activation_until_activated(web_client, person):
    client = web_client(person.user)
    page = client.get("/ecode/").content.decode()
    assert 'action="/ecode/activate/"' in page and "data-token" not in page
    assert client.get("/ecode/current.json").status_code == 409
    client.post("/ecode/activate/")
    page = client.get("/ecode/").content.decode()
    token = re.search(r'data-token="(\d+)"', page).group(1)
    assert len(token) == 227
    assert "data:image/svg+xml;base64," in page


def test_ecode_refresh_gives_a_new_code_with_timing(web_client, person):
    credential_factory(person=person)
    response = web_client(person.user).get("/ecode/current.json")
    body = response.json()
    assert response["Cache-Control"].startswith("max-age=0")
    assert len(body["token"]) == 227 and body["image"].startswith("data:image/svg+xml;base64,")
    assert 0 < body["refresh_in"] <= 30 < body["expires_in"] <= 120


def test_suspended_ecode_shows_its_state_and_no_code(web_client, person):
    credential = credential_factory(person=person)
    credential_suspend(credential=credential, actor=None, reason="核查中")
    client = web_client(person.user)
    page = client.get("/ecode/").content.decode()
    assert "data-token" not in page and "核查中" in page
    assert client.get("/ecode/current.json").status_code == 409


def test_ecode_of_a_person_whose_insurance_is_inactive_shows_the_reason(web_client, person):
    credential_factory(person=person)
    person.status = PersonStatus.SUSPENDED
    person.save()
    page = web_client(person.user).get("/ecode/").content.decode()
    assert "data-token" not in page
    assert "alert error" in page


# --- Counter ---


def test_counter_verifies_uses_once_and_refuses_a_second_use(web_client, person, hospitals):
    approved(person, destination=DESTINATION, institutions=[hospitals[0].code])
    token = token_issue(credential=credential_factory(person=person)).token
    client = web_client(CounterFactory(institution=hospitals[0]))
    page = client.get("/counter/").content.decode()
    assert 'name="token"' in page and "autofocus" in page

    result = client.post("/counter/verify/", {"token": token}, HTTP_X_REQUESTED_WITH="fetch")
    html = result.content.decode()
    assert 'data-valid="true"' in html and "<html" not in html
    assert person.masked_name in html and person.masked_id_number in html
    assert person.name not in html and person.id_number not in html
    assert "tag green" in html  # the filing is in force here

    used = client.post("/counter/use/", {"token": token}).content.decode()
    assert 'id="r-use-id"' in used
    again = client.post("/counter/use/", {"token": token}).content.decode()
    assert 'data-code="already_used"' in again


def test_counter_says_when_the_filing_is_not_in_force_here(web_client, person, hospitals):
    approved(person, destination=DESTINATION, institutions=[hospitals[0].code])
    token = token_issue(credential=credential_factory(person=person)).token
    elsewhere = CounterFactory(institution=InstitutionFactory(region_code="310000", area="310104"))
    html = web_client(elsewhere).post("/counter/verify/", {"token": token}).content.decode()
    assert 'data-valid="true"' in html and "tag red" in html


def test_counter_of_an_inactive_institution_is_told_why_it_cannot_check(web_client, person):
    token = token_issue(credential=credential_factory(person=person)).token
    operator = CounterFactory()
    client = web_client(operator)
    operator.institution.active = False
    operator.institution.save()
    response = client.post("/counter/verify/", {"token": token}, HTTP_X_REQUESTED_WITH="fetch")
    html = response.content.decode()
    # An answer in the result area (the page's script reloads on any other 403), not a bare error page.
    assert response.status_code == 403 and response["X-Counter-Refusal"] == "1"
    assert 'role="alert"' in html and "<html" not in html
    assert "该机构未启用。" in html or "The institution is not active." in html


def test_counter_explains_a_code_that_is_not_an_ecode(web_client):
    client = web_client(CounterFactory())
    html = client.post("/counter/verify/", {"token": "6222 0000 1111"}).content.decode()
    assert 'data-code="malformed"' in html
    assert client.post("/counter/verify/", {"token": ""}).status_code == 400


# --- Filings ---


def test_filing_detail_shows_the_review_deadline(web_client, person):
    filing = submitted(person, destination=DESTINATION)
    page = web_client(person.user).get(f"/filings/{filing.pk}/").content.decode()
    assert 'data-status="submitted"' in page
    assert filing.review_deadline.isoformat() in page


def test_rejected_filing_shows_why_and_how_to_fix_it(web_client, person):
    filing = draft(person, destination=DESTINATION, commitment=False)
    with_document(filing, "residence_proof")
    filing = filing_submit(filing=filing, actor=person.user)
    filing_reject(
        filing=filing,
        actor=ReviewerFactory(region_code=INSURED),
        reason="居住证已过期",
        hint="请上传有效的居住证",
    )
    page = web_client(person.user).get(f"/filings/{filing.pk}/").content.decode()
    assert "居住证已过期" in page and "请上传有效的居住证" in page


def test_person_cancels_a_filing_under_review(web_client, person):
    filing = submitted(person, destination=DESTINATION)
    response = web_client(person.user).post(f"/filings/{filing.pk}/cancel/", {"reason": "不去了"})
    assert response["Location"] == f"/filings/{filing.pk}/"
    filing.refresh_from_db()
    assert filing.status == FilingStatus.CANCELLED


def test_a_cancel_reason_too_long_is_refused_and_nothing_is_cancelled(web_client, person):
    filing = submitted(person, destination=DESTINATION)
    response = web_client(person.user).post(
        f"/filings/{filing.pk}/cancel/", {"reason": "改" * 201}, follow=True
    )
    assert 'class="msg error"' in response.content.decode()
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SUBMITTED and filing.reason == ""


def test_documents_can_be_removed_from_a_draft_only(web_client, person):
    filing = draft(person, destination=DESTINATION)
    document = with_document(filing, "residence_proof")
    client = web_client(person.user)
    remove = f"/filings/{filing.pk}/documents/{document.pk}/remove/"
    assert remove in client.get(f"/filings/{filing.pk}/").content.decode()
    filing_submit(filing=filing, actor=person.user)
    page = client.get(f"/filings/{filing.pk}/").content.decode()
    assert remove not in page and f"/filings/{filing.pk}/documents/{document.pk}/" in page
    # Cancelling stays on offer while the filing is under review.
    assert f"/filings/{filing.pk}/cancel/" in page


def test_a_cancelled_filing_cannot_be_cancelled_again(web_client, person):
    filing = submitted(person, destination=DESTINATION)
    client = web_client(person.user)
    client.post(f"/filings/{filing.pk}/cancel/")
    response = client.post(f"/filings/{filing.pk}/cancel/", follow=True)
    assert 'class="msg error"' in response.content.decode()


# --- The wizard ---


def test_wizard_files_a_long_term_resident_with_two_institutions(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_review(client, hospitals)
    page = client.get("/filings/new/review/").content.decode()
    assert hospitals[0].name in page and hospitals[1].name in page
    response = client.post("/filings/new/review/")
    filing = Filing.objects.get(person=person)
    assert response["Location"] == f"/filings/{filing.pk}/"
    assert filing.status == FilingStatus.SUBMITTED and filing.group == "resident"
    assert sorted(p.institution.code for p in filing.picks.all()) == sorted(h.code for h in hospitals[:2])
    assert filing.channel == "web"
    # The wizard starts afresh afterwards.
    assert client.get("/filings/new/")["Location"] == "/filings/new/group/"


def test_wizard_survives_a_reload_and_resumes_where_it_stopped(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    assert client.get("/filings/new/")["Location"] == "/filings/new/dates/"
    page = client.get("/filings/new/institutions/").content.decode()
    assert hospitals[0].name in page
    # A step further than reached is not skipped to.
    assert client.get("/filings/new/review/")["Location"] == "/filings/new/dates/"


def test_a_saved_draft_is_resumed_in_the_wizard(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    filing = Filing.objects.get(person=person, status=FilingStatus.DRAFT)
    fresh = web_client(person.user)  # another session: the draft is still there
    assert fresh.get(f"/filings/new/?draft={filing.pk}")["Location"] == "/filings/new/materials/"
    assert (
        "北京市" in fresh.get("/filings/new/review/").content.decode()
        or fresh.get("/filings/new/materials/").status_code == 200
    )


def test_wizard_explains_an_ineligible_group_on_the_group_step(web_client, person):
    response = web_client(person.user).post("/filings/new/group/", {"group": "retiree"})
    assert response.status_code == 200
    assert 'id="step-error"' in response.content.decode()
    assert "只有退休人员才能按异地安置退休人员备案。" in response.content.decode()


def test_wizard_explains_a_destination_in_the_insured_province(web_client, person):
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    response = client.post("/filings/new/destination/", {"destination": "510000"})
    assert response.status_code == 200
    assert 'id="step-error"' in response.content.decode()
    assert "就医地须在参保省份以外" in response.content.decode()


def test_wizard_asks_for_picks_where_the_insured_area_requires_them(web_client, hospitals):
    chengdu_policy(pick_required=True)
    person = resident()
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    client.post("/filings/new/destination/", {"destination": DESTINATION})
    response = client.post("/filings/new/institutions/", {"mode": "all", "next": "1"})
    assert response.status_code == 200
    assert "选择 1 至 4 家" in response.content.decode()


def test_wizard_refuses_more_institutions_than_allowed(web_client, hospitals):
    chengdu_policy(max_institutions=1)
    person = resident()
    client = web_client(person.user)
    client.post("/filings/new/group/", {"group": "resident"})
    client.post("/filings/new/destination/", {"destination": DESTINATION})
    client.post("/filings/new/institutions/", {"add": hospitals[0].code})
    response = client.post("/filings/new/institutions/", {"add": hospitals[1].code}, follow=True)
    assert "最多可选择 1 家机构" in response.content.decode()


def test_wizard_explains_a_start_date_too_far_back_on_the_dates_step(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    response = client.post(
        "/filings/new/dates/", {"start_date": (today() - dt.timedelta(days=400)).isoformat()}
    )
    assert response["Location"] == "/filings/new/dates/"
    page = client.get("/filings/new/dates/").content.decode()
    assert 'id="step-error"' in page and "最早可为 90 天前" in page


def test_wizard_checks_the_date_shape_on_the_dates_step(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    response = client.post("/filings/new/dates/", {"start_date": "not a date"})
    assert response.status_code == 200 and 'class="errors"' in response.content.decode()


def test_missing_materials_send_the_person_back_to_the_materials_step(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    client.post("/filings/new/materials/", {"action": "next"})  # neither documents nor a commitment
    response = client.post("/filings/new/review/")
    assert response["Location"] == "/filings/new/materials/"
    assert 'id="step-error"' in client.get("/filings/new/materials/").content.decode()


def test_documents_are_uploaded_and_removed_on_the_materials_step(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    upload = SimpleUploadedFile("permit.png", png_bytes(), content_type="image/png")
    client.post("/filings/new/materials/", {"action": "upload", "kind": "residence_proof", "upload": upload})
    filing = Filing.objects.get(person=person)
    document = filing.documents.get()
    assert client.get(f"/filings/{filing.pk}/documents/{document.pk}/").status_code == 200
    client.post("/filings/new/materials/", {"action": "next"})
    assert client.post("/filings/new/review/")["Location"] == f"/filings/{filing.pk}/"
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SUBMITTED and not filing.commitment


def test_a_fake_document_is_refused_with_the_reason(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    upload = SimpleUploadedFile("permit.png", b"not an image", content_type="image/png")
    response = client.post(
        "/filings/new/materials/",
        {"action": "upload", "kind": "residence_proof", "upload": upload},
        follow=True,
    )
    assert 'class="msg error"' in response.content.decode()


def test_a_family_member_can_file_as_proxy(web_client, person, hospitals):
    from tests.factories import make_id_number, make_phone

    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    response = client.post(
        "/filings/new/materials/",
        {
            "action": "next",
            "commitment": "on",
            "proxy-enabled": "on",
            "proxy-name": "李小明",
            "proxy-id_number": make_id_number(),
            "proxy-phone": make_phone(),
            "proxy-relation": "child",
        },
    )
    assert response["Location"] == "/filings/new/review/"
    assert Filing.objects.get(person=person).proxy_relation == "child"
    bad = client.post(
        "/filings/new/materials/",
        {
            "action": "next",
            "proxy-enabled": "on",
            "proxy-name": "李小明",
            "proxy-id_number": "123",
            "proxy-phone": "1",
            "proxy-relation": "child",
        },
    )
    assert bad["Location"] == "/filings/new/materials/"


def test_commitment_filing_is_approved_at_once_where_the_area_says_so(web_client, hospitals):
    chengdu_policy(instant_approval=True)
    person = resident()
    client = web_client(person.user)
    walk_to_review(client, hospitals)
    client.post("/filings/new/review/")
    assert Filing.objects.get(person=person).status == FilingStatus.APPROVED


def test_discarding_the_wizard_cancels_its_draft(web_client, person, hospitals):
    client = web_client(person.user)
    walk_to_dates(client, hospitals)
    client.post("/filings/new/dates/", {"start_date": today().isoformat()})
    assert client.post("/filings/new/discard/")["Location"] == "/filings/"
    assert Filing.objects.get(person=person).status == FilingStatus.CANCELLED
    assert client.get("/filings/new/")["Location"] == "/filings/new/group/"


def test_unknown_wizard_step_is_not_found(web_client, person):
    assert web_client(person.user).get("/filings/new/payment/").status_code == 404
