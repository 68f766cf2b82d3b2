"""The filing flow end to end through the API and admin, against the demo data."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.demo import PERSON_PASSWORD, REVIEWER_PASSWORD, seed_demo
from core.models import AuditEvent
from filing.dates import today
from filing.models import Filing, FilingPolicy, GroupRule
from filing.selectors import filing_coverage, filing_in_force
from reference.models import Institution

from .factories import PDF_BYTES

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def demo(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    return seed_demo()


def sign_in(phone: str) -> APIClient:
    client = APIClient()
    token = client.post("/api/v1/auth/token", {"phone": phone, "password": PERSON_PASSWORD}, format="json")
    assert token.status_code == 200, token.json()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + token.json()["token"])
    return client


def phone_of(demo, group: str) -> str:
    return next(p["phone"] for p in demo.people if p["group"] == group)


def test_demo_has_policies_and_filings_in_force_for_worker_and_retiree(demo):
    assert set(FilingPolicy.objects.exclude(region=None).values_list("region_id", flat=True)) == {
        "230100",
        "510100",
        "130100",
        "130600",
        "440300",
        "330100",
    }
    assert FilingPolicy.objects.get(region_id="130600").pick_required
    for group in ("worker", "retiree"):
        person = demo.persons_by_group[group]
        filing = filing_in_force(person=person)
        assert filing is not None and filing.destination == demo.destinations[group]
        for counter in demo.counters:
            institution = Institution.objects.get(code=counter["institution_code"])
            if institution.region_id == demo.destinations[group].code:
                assert filing_coverage(person=person, institution=institution).applies
    assert filing_in_force(person=demo.persons_by_group["resident"]) is None


def test_seeding_twice_changes_nothing(demo):
    counts = (
        Filing.objects.count(),
        FilingPolicy.objects.count(),
        GroupRule.objects.count(),
        AuditEvent.objects.filter(action__startswith="filing").count(),
    )
    seed_demo()
    assert counts == (
        Filing.objects.count(),
        FilingPolicy.objects.count(),
        GroupRule.objects.count(),
        AuditEvent.objects.filter(action__startswith="filing").count(),
    )


def test_resident_files_for_shanghai_on_a_commitment_and_is_approved_at_once(demo):
    client = sign_in(phone_of(demo, "resident"))
    rules = client.get("/api/v1/filings/rules", {"group": "resident", "destination": "310000"}).json()
    assert rules["eligible"] and rules["commitment_allowed"] and rules["instant_approval"]
    hospitals = client.get(
        "/api/v1/institutions/", {"region": "310000", "kind": "hospital", "service": "inpatient"}
    ).json()["results"]
    created = client.post(
        "/api/v1/filings/",
        {
            "group": "resident",
            "destination": "310000",
            "start_date": today().isoformat(),
            "institutions": [hospitals[0]["code"]],
            "commitment": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "draft"
    submitted = client.post(f"/api/v1/filings/{created.json()['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "approved"
    shanghai_counter = Institution.objects.get(
        code=next(c["institution_code"] for c in demo.counters if c["institution_code"].startswith("H31"))
    )
    assert filing_coverage(person=demo.persons_by_group["resident"], institution=shanghai_counter).applies
    assert client.get("/api/v1/filings/").json()["count"] == 1


def test_referral_picks_hospitals_uploads_the_letter_and_the_agency_approves(demo):
    client = sign_in(phone_of(demo, "referral"))
    rules = client.get("/api/v1/filings/rules", {"group": "referral", "destination": "110000"}).json()
    assert rules["pick_required"] and rules["max_institutions"] == 4 and not rules["commitment_allowed"]
    assert [m["kind"] for m in rules["materials"]] == ["referral_letter"]
    body = {
        "group": "referral",
        "destination": "110000",
        "start_date": today().isoformat(),
        "institutions": [],
        "commitment": False,
    }
    filing_id = client.post("/api/v1/filings/", body, format="json").json()["id"]
    refused = client.post(f"/api/v1/filings/{filing_id}/submit")
    assert refused.status_code == 400 and refused.json()["code"] == "institutions_required"
    client.patch(
        f"/api/v1/filings/{filing_id}", {"institutions": ["H11010100001", "H11010200001"]}, format="json"
    )
    refused = client.post(f"/api/v1/filings/{filing_id}/submit")
    assert refused.json()["code"] == "materials_missing"
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post(
        f"/api/v1/filings/{filing_id}/documents",
        {"kind": "referral_letter", "file": SimpleUploadedFile("letter.pdf", PDF_BYTES)},
        format="multipart",
    )
    submitted = client.post(f"/api/v1/filings/{filing_id}/submit").json()
    assert submitted["status"] == "submitted" and submitted["review_deadline"]

    agency = Client()
    assert agency.login(username="reviewer-130600", password=REVIEWER_PASSWORD)
    queue = agency.get("/admin/filing/filing/")
    assert [f.pk for f in queue.context["cl"].result_list] == [filing_id]
    agency.post(f"/admin/filing/filing/{filing_id}/approve/")
    assert client.get(f"/api/v1/filings/{filing_id}").json()["status"] == "approved"
    person = demo.persons_by_group["referral"]
    assert filing_coverage(person=person, institution=Institution.objects.get(code="H11010100001")).applies
    coverage = filing_coverage(person=person, institution=Institution.objects.get(code="H11010500001"))
    assert coverage.reason == "institution_not_picked"
