"""Agency reviewers in Django admin: their own area's queue, decisions, documents and policy; nobody else's."""

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import Client

from core.audit import audit_history
from core.models import AuditEvent
from filing.choices import FilingStatus
from filing.models import Filing, FilingPolicy
from notifications.models import Notification
from tests.factories import person_factory

from .factories import days_ago, draft, policy, reviewer, submitted, with_document

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

QUEUE = "/admin/filing/filing/"


@pytest.fixture
def area():
    return policy("510100", instant_approval=False, retroactive_days=90)


@pytest.fixture
def clerk(area):
    return reviewer("510100")


@pytest.fixture
def browser(clerk):
    client = Client()
    client.force_login(clerk)
    return client


@pytest.fixture
def person(area):
    return person_factory(name="李秀英", insured_region="510100", phone="13912340001")


def test_queue_opens_on_submitted_filings_oldest_first_with_deadline(browser, person):
    newer_person = person_factory(insured_region="510100")
    older = submitted(person)
    Filing.objects.filter(pk=older.pk).update(submitted_at=older.submitted_at.replace(year=2025))
    newer = submitted(newer_person)
    draft(person_factory(insured_region="510100"))
    response = browser.get(QUEUE)
    assert response.status_code == 200
    shown = [f.pk for f in response.context["cl"].result_list]
    assert shown == [older.pk, newer.pk]
    assert older.review_deadline.isoformat() in response.content.decode()


def test_queue_can_show_every_status_and_filter_by_group_and_deadline(browser, person):
    draft_filing = draft(person, group="temporary", commitment=False, start_date=days_ago(1))
    response = browser.get(QUEUE, {"status": "all"})
    assert draft_filing.pk in [f.pk for f in response.context["cl"].result_list]
    assert browser.get(QUEUE, {"group": "worker"}).context["cl"].result_count == 0
    assert browser.get(QUEUE, {"deadline": "overdue"}).status_code == 200


def test_list_masks_personal_data(browser, person):
    submitted(person)
    html = browser.get(QUEUE).content.decode()
    assert "李*英" in html and person.masked_id_number in html
    for secret in ("李秀英", person.id_number, "13912340001"):
        assert secret not in html


@pytest.mark.embedded
@pytest.mark.parametrize("term", ["id", "phone", "masked_id", "masked_phone", "tail"])
def test_search_by_full_or_masked_id_or_phone_keeps_it_out_of_the_address(browser, person, term):
    filing = submitted(person)
    other = submitted(person_factory(insured_region="510100"))
    query = {
        "id": person.id_number,
        "phone": "13912340001",
        "masked_id": person.masked_id_number,
        "masked_phone": person.masked_phone,
        "tail": person.id_number[-4:],
    }[term]
    # The search box posts; the browser is sent to a token, and the number is in no address.
    posted = browser.post(QUEUE + "person-search/", {"q": query, "status": "all"})
    assert posted.status_code == 302
    location = posted["Location"]
    assert set(parse_qs(urlsplit(location).query)) == {"status", "ps"}
    assert query not in unquote(location)
    page = browser.get(location)
    shown = [f.pk for f in page.context["cl"].result_list]
    assert shown == [filing.pk] and other.pk not in shown
    if term in ("id", "phone"):
        assert query not in page.content.decode()  # the page names the person masked only


@pytest.mark.embedded
def test_a_serial_number_is_searched_in_the_address_and_a_typed_in_number_finds_nothing(browser, person):
    filing = submitted(person)
    submitted(person_factory(insured_region="510100"))
    posted = browser.post(QUEUE + "person-search/", {"q": filing.serial})
    assert parse_qs(urlsplit(posted["Location"]).query) == {"q": [filing.serial]}
    assert [f.pk for f in browser.get(posted["Location"]).context["cl"].result_list] == [filing.pk]
    assert browser.get(QUEUE, {"q": person.id_number}).context["cl"].result_count == 0


def test_reviewer_sees_only_their_own_area(clerk, person):
    mine = submitted(person)
    policy("230100", instant_approval=False)
    theirs = submitted(person_factory(insured_region="230100"))
    outsider = Client()
    outsider.force_login(reviewer("230100"))
    shown = [f.pk for f in outsider.get(QUEUE).context["cl"].result_list]
    assert shown == [theirs.pk]
    assert (
        outsider.get(f"{QUEUE}{mine.pk}/change/").status_code == 302
    )  # admin: "doesn't exist", back to list
    assert outsider.post(f"{QUEUE}{mine.pk}/approve/").status_code == 404
    assert outsider.post(f"{QUEUE}{mine.pk}/reject/", {"common": "materials_missing"}).status_code == 404
    mine.refresh_from_db()
    assert mine.status == FilingStatus.SUBMITTED


def test_change_page_shows_documents_and_read_only_history(browser, person):
    filing = draft(person, commitment=False)
    document = with_document(filing, "residence_proof")
    from filing.services import filing_submit

    filing_submit(filing=filing, actor=person.user)
    html = browser.get(f"{QUEUE}{filing.pk}/change/").content.decode()
    assert f"/admin/filing/filing/{filing.pk}/documents/{document.pk}/" in html
    assert "提交审核" in html and "草稿 → 已提交" in html  # the audit history inline, in words
    assert 'name="_save"' not in html
    assert f"{QUEUE}{filing.pk}/approve/" in html and f"{QUEUE}{filing.pk}/reject/" in html


def test_reviewer_previews_a_document_of_their_area(browser, person):
    filing = draft(person, commitment=False)
    document = with_document(filing, "residence_proof")
    response = browser.get(f"{QUEUE}{filing.pk}/documents/{document.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline;")
    outsider = Client()
    outsider.force_login(reviewer("230100"))
    assert outsider.get(f"{QUEUE}{filing.pk}/documents/{document.pk}/").status_code == 404
    # Who opened a person's material is on record; the refused attempt left nothing to record.
    opened = audit_history(document).filter(action="filing.document_opened")
    assert opened.count() == 1
    assert opened.get().data == {"filing": filing.pk, "kind": "residence_proof"}


def test_approve_from_the_change_page(browser, clerk, person):
    filing = submitted(person)
    assert browser.get(f"{QUEUE}{filing.pk}/approve/").status_code == 200  # confirmation page
    response = browser.post(f"{QUEUE}{filing.pk}/approve/")
    assert response.status_code == 302
    filing.refresh_from_db()
    assert filing.status == FilingStatus.APPROVED and filing.decided_by == clerk
    assert Notification.objects.filter(person=person, event="filing_approved").exists()


def test_reject_needs_a_reason(browser, person):
    filing = submitted(person)
    response = browser.post(f"{QUEUE}{filing.pk}/reject/", {"common": "", "reason": "", "hint": ""})
    assert response.status_code == 200 and response.context["form"].errors
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SUBMITTED

    browser.post(f"{QUEUE}{filing.pk}/reject/", {"common": "materials_missing", "reason": "缺少居住证明"})
    filing.refresh_from_db()
    assert filing.status == FilingStatus.REJECTED
    assert "缺少居住证明" in filing.reason and filing.fix_hint  # the common reason brings its fix hint


def test_revoke_an_approved_filing_with_a_reason(browser, person, clerk):
    from filing.services import filing_approve

    filing = filing_approve(filing=submitted(person), actor=clerk)
    assert browser.post(f"{QUEUE}{filing.pk}/revoke/", {"reason": ""}).status_code == 200
    browser.post(f"{QUEUE}{filing.pk}/revoke/", {"reason": "承诺内容不实"})
    filing.refresh_from_db()
    assert filing.status == FilingStatus.REVOKED and filing.reason == "承诺内容不实"


def test_bulk_approve(browser, person):
    filings = [submitted(person), submitted(person_factory(insured_region="510100"))]
    response = browser.post(
        QUEUE, {"action": "approve_selected", "_selected_action": [f.pk for f in filings]}
    )
    assert response.status_code == 302
    assert set(Filing.objects.values_list("status", flat=True)) == {FilingStatus.APPROVED}


def test_bulk_reject_asks_for_the_reason_first(browser, person):
    filings = [submitted(person), submitted(person_factory(insured_region="510100"))]
    ids = [f.pk for f in filings]
    page = browser.post(QUEUE, {"action": "reject_selected", "_selected_action": ids})
    assert page.status_code == 200 and "form" in page.context
    assert set(Filing.objects.values_list("status", flat=True)) == {FilingStatus.SUBMITTED}
    browser.post(
        QUEUE,
        {
            "action": "reject_selected",
            "_selected_action": ids,
            "post": "yes",
            "common": "materials_unreadable",
        },
    )
    assert set(Filing.objects.values_list("status", flat=True)) == {FilingStatus.REJECTED}
    assert AuditEvent.objects.filter(action="filing.reject").count() == 2


def test_bulk_action_reports_filings_it_could_not_decide(browser, person, clerk):
    from filing.services import filing_approve

    done = filing_approve(filing=submitted(person), actor=clerk)
    waiting = submitted(person_factory(insured_region="510100"))
    response = browser.post(
        f"{QUEUE}?status=all",
        {"action": "approve_selected", "_selected_action": [done.pk, waiting.pk]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(done.serial in m for m in messages)
    waiting.refresh_from_db()
    assert waiting.status == FilingStatus.APPROVED


# --- Policies ---


def test_reviewer_edits_only_their_own_areas_policy(browser, area):
    other = policy("230100")
    default = FilingPolicy.objects.get(region__isnull=True)
    listed = [p.pk for p in browser.get("/admin/filing/filingpolicy/").context["cl"].result_list]
    assert set(listed) == {area.pk, default.pk}
    data = {
        "pick_required": "on",
        "max_institutions": "3",
        "review_deadline_days": "7",
        "retroactive_days": "30",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
    }
    response = browser.post(f"/admin/filing/filingpolicy/{area.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    area.refresh_from_db()
    assert area.pick_required and area.max_institutions == 3
    assert AuditEvent.objects.filter(action="filing_policy.change", target_id=str(area.pk)).exists()
    assert browser.post(f"/admin/filing/filingpolicy/{other.pk}/change/", data).status_code == 302
    other.refresh_from_db()
    assert not other.pick_required  # another area's policy is out of reach
    browser.post(f"/admin/filing/filingpolicy/{default.pk}/change/", data)
    default.refresh_from_db()
    assert not default.pick_required  # the default policy is view-only for reviewers


def test_superuser_sees_every_area_and_policy_pages_render(person):
    from accounts.models import User

    policy("230100", instant_approval=False)
    filings = [submitted(person), submitted(person_factory(insured_region="230100"))]
    admin_user = User.objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(admin_user)
    shown = {f.pk for f in client.get(QUEUE).context["cl"].result_list}
    assert shown == {f.pk for f in filings}
    assert client.get(f"{QUEUE}{filings[1].pk}/change/").status_code == 200
    page = client.get(f"/admin/filing/filingpolicy/{FilingPolicy.objects.get(region_id='230100').pk}/change/")
    assert page.status_code == 200 and 'value="residence_proof"' in page.content.decode()
    assert client.get("/admin/filing/holiday/").status_code == 200
