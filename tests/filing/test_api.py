"""The API a mini-program calls: filing, documents, submission, cancellation, rules, and who may see what."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from filing.choices import FilingStatus
from filing.dates import today
from filing.models import Filing, FilingDocument
from tests.factories import ReviewerFactory, person_factory

from .factories import PDF_BYTES, draft, hospital, jpeg_upload, pdf_upload, png_bytes, png_upload, policy

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

FILINGS = "/api/v1/filings/"


@pytest.fixture
def person():
    policy(instant_approval=False, review_deadline_days=5)
    return person_factory(insured_region="510100")


@pytest.fixture
def client(person, person_client):
    return person_client(person)


def create(client, **overrides):
    body = {
        "group": "resident",
        "destination": "110000",
        "start_date": today().isoformat(),
        "institutions": [],
        "commitment": True,
        **overrides,
    }
    return client.post(FILINGS, body, format="json")


def test_create_returns_a_draft(client):
    beijing = hospital()
    response = create(client, institutions=[beijing.code])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and isinstance(body["id"], int)
    assert body["destination"] == "110000" and body["destination_name"] == "北京市"
    assert body["channel"] == "mini_program" and body["all_institutions"] is True
    assert [i["code"] for i in body["institutions"]] == [beijing.code]


def test_create_then_submit_then_cancel(client):
    filing_id = create(client).json()["id"]
    response = client.post(f"{FILINGS}{filing_id}/submit")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted" and response.json()["review_deadline"]
    response = client.post(f"{FILINGS}{filing_id}/cancel", {"reason": "不去了"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_rule_violation_comes_back_as_a_code(client):
    response = create(client, destination="510700")
    assert response.status_code == 400
    assert response.json()["code"] == "destination_in_insured_province"
    assert "destination" in response.json()["fields"]


def test_bad_input_is_a_400_not_a_500(client):
    for body in (
        {"group": "tourist"},
        {"group": "resident", "destination": "110000", "start_date": "tomorrow"},
        {
            "group": "resident",
            "destination": "110000",
            "start_date": today().isoformat(),
            "institutions": "H1",
        },
    ):
        response = client.post(FILINGS, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"]


def test_idempotency_key_gives_one_filing(client, person):
    first = client.post(
        FILINGS,
        {"group": "resident", "destination": "110000", "start_date": today().isoformat(), "commitment": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="abc-1",
    )
    second = client.post(
        FILINGS,
        {"group": "resident", "destination": "110000", "start_date": today().isoformat(), "commitment": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="abc-1",
    )
    assert first.json()["id"] == second.json()["id"]
    assert Filing.objects.filter(person=person).count() == 1


def test_submitting_twice_with_the_same_key_returns_the_same_filing(client):
    filing_id = create(client).json()["id"]
    first = client.post(f"{FILINGS}{filing_id}/submit", HTTP_IDEMPOTENCY_KEY="s-1")
    second = client.post(f"{FILINGS}{filing_id}/submit", HTTP_IDEMPOTENCY_KEY="s-1")
    assert first.status_code == second.status_code == 200
    assert first.json()["submitted_at"] == second.json()["submitted_at"]
    third = client.post(f"{FILINGS}{filing_id}/submit")
    assert third.status_code == 409 and third.json()["code"] == "invalid_transition"


def test_second_overlapping_submission_is_a_409(client):
    create(client)
    first = create(client, group="temporary", commitment=False).json()["id"]
    client.post(f"{FILINGS}{first}/submit")
    response = create(client, destination="310000")
    assert response.status_code == 409 and response.json()["code"] == "overlapping_filing"


def test_update_draft(client):
    filing_id = create(client).json()["id"]
    beijing = hospital()
    response = client.patch(
        f"{FILINGS}{filing_id}", {"institutions": [beijing.code], "commitment": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["commitment"] is False
    assert [i["code"] for i in response.json()["institutions"]] == [beijing.code]


def test_proxy_applicant_is_returned_masked(client):
    proxy = {"name": "王小明", "id_number": "11010519491231002X", "phone": "13912345678", "relation": "child"}
    body = create(client, proxy=proxy).json()
    assert body["proxy"] == {
        "name": "王*明",
        "id_number": "110***********002X",
        "phone": "139****5678",
        "relation": "child",
    }


def test_rules_preview(client):
    hospital()
    response = client.get(f"{FILINGS}rules", {"group": "resident", "destination": "110000"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["eligible"] and body["commitment_allowed"] and body["networked_institutions_count"] == 1
    assert body["networked_institutions"][0]["region"] == "110000"


def test_list_is_paginated_and_costs_a_constant_number_of_queries(
    client, person, django_assert_max_num_queries
):
    beijing = hospital()
    first = draft(person, institutions=[beijing.code])
    from .factories import with_document

    with_document(first, "residence_proof")
    with django_assert_max_num_queries(7) as one:
        assert client.get(FILINGS).json()["count"] == 1
    for _ in range(5):
        filing = draft(person, group="temporary", commitment=False, institutions=[beijing.code])
        with_document(filing, "id_document")
    with django_assert_max_num_queries(len(one.captured_queries)):
        body = client.get(FILINGS).json()
    assert body["count"] == 6 and len(body["results"]) == 6
    assert {"count", "next", "previous", "results"} <= set(body)


# --- Documents ---


@pytest.mark.parametrize("upload", [png_upload, jpeg_upload, pdf_upload])
def test_upload_pdf_jpeg_png(client, upload):
    filing_id = create(client).json()["id"]
    response = client.post(
        f"{FILINGS}{filing_id}/documents", {"kind": "residence_proof", "file": upload()}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] in ("image/png", "image/jpeg", "application/pdf")
    assert client.get(f"{FILINGS}{filing_id}").json()["documents"][0]["id"] == response.json()["id"]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("evil.png", b"<html><script>alert(1)</script></html>", "document_type_not_allowed"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "document_type_not_allowed"),
        ("broken.png", png_bytes()[:40], "document_type_not_allowed"),
        ("cut.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "document_type_not_allowed"),
        ("empty.pdf", b"", None),
        ("huge.pdf", PDF_BYTES + b"0" * (10 * 1024 * 1024), "document_too_large"),
    ],
)
def test_bad_uploads_are_refused(client, name, content, code):
    filing_id = create(client).json()["id"]
    response = client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": SimpleUploadedFile(name, content)},
        format="multipart",
    )
    assert response.status_code == 400
    if code:
        assert response.json()["code"] == code
    assert not FilingDocument.objects.exists()


def test_owner_downloads_the_document_with_safe_headers(client):
    filing_id = create(client).json()["id"]
    doc = client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": pdf_upload()},
        format="multipart",
    ).json()
    response = client.get(doc["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    # The uploaded name ("proof.pdf") is never kept.
    doc_id = doc["id"]
    assert response["Content-Disposition"] == f'attachment; filename="residence_proof-{doc_id}.pdf"'


def test_document_is_stored_outside_public_paths_under_a_random_name(client, settings):
    filing_id = create(client).json()["id"]
    client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": png_upload("张三身份证.png")},
        format="multipart",
    )
    document = FilingDocument.objects.get()
    path = document.file.path
    assert path.startswith(str(settings.PRIVATE_MEDIA_ROOT))
    assert "张三" not in path and path.endswith(".png")


def test_remove_document_from_draft(client):
    filing_id = create(client).json()["id"]
    doc = client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": png_upload()},
        format="multipart",
    ).json()
    assert client.delete(doc["url"]).status_code == 204
    assert client.get(doc["url"]).status_code == 404


def test_documents_cannot_be_added_after_submission(client):
    filing_id = create(client).json()["id"]
    client.post(f"{FILINGS}{filing_id}/submit")
    response = client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": png_upload()},
        format="multipart",
    )
    assert response.status_code == 409 and response.json()["code"] == "filing_not_editable"


# --- Who may see what ---


def test_person_cannot_read_or_change_another_persons_filing(client, person, person_client):
    filing_id = create(client).json()["id"]
    doc = client.post(
        f"{FILINGS}{filing_id}/documents",
        {"kind": "residence_proof", "file": png_upload()},
        format="multipart",
    ).json()
    other = person_client(person_factory(insured_region="510100"))
    assert other.get(f"{FILINGS}{filing_id}").status_code == 404
    assert other.patch(f"{FILINGS}{filing_id}", {"commitment": False}, format="json").status_code == 404
    assert other.post(f"{FILINGS}{filing_id}/submit").status_code == 404
    assert other.post(f"{FILINGS}{filing_id}/cancel").status_code == 404
    assert (
        other.post(
            f"{FILINGS}{filing_id}/documents", {"kind": "other", "file": png_upload()}, format="multipart"
        ).status_code
        == 404
    )
    assert other.get(doc["url"]).status_code == 404
    assert other.delete(doc["url"]).status_code == 404
    assert other.get(FILINGS).json()["count"] == 0
    assert Filing.objects.get(pk=filing_id).status == FilingStatus.DRAFT


def test_anonymous_and_staff_cannot_use_the_person_api(api_client, client):
    filing_id = create(client).json()["id"]
    assert api_client.get(FILINGS).status_code == 401
    api_client.force_authenticate(ReviewerFactory(region_code="510100"))
    assert api_client.get(f"{FILINGS}{filing_id}").status_code == 403


def test_openapi_schema_documents_the_filing_operations(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    paths = json.loads(response.content)["paths"]
    for path in (
        "/api/v1/filings/",
        "/api/v1/filings/{filing_id}/submit",
        "/api/v1/filings/{filing_id}/cancel",
        "/api/v1/filings/{filing_id}/documents",
        "/api/v1/filings/rules",
    ):
        assert path in paths
    # The lists are pages ({count, next, previous, results}), as the endpoints answer, with their parameters.
    for path, component in (
        ("/api/v1/filings/", "PaginatedFilingList"),
        ("/api/v1/settlements/", "PaginatedSettlementList"),
    ):
        listing = paths[path]["get"]
        assert {"page", "page_size"} <= {parameter["name"] for parameter in listing["parameters"]}
        ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{component}"}
