"""Filing test helpers: policies with chosen rules, drafts and decided filings made through the services, and
small valid (and invalid) upload files."""

from __future__ import annotations

import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from filing.choices import FilingGroup
from filing.dates import today
from filing.models import FilingPolicy, GroupRule
from filing.services import (
    NATIONAL_DEFAULT_RULES,
    document_add,
    filing_approve,
    filing_create_draft,
    filing_submit,
)
from tests.factories import InstitutionFactory, ReviewerFactory

# Insured in Chengdu (Sichuan), filing for Beijing: the pair most tests use.
INSURED = "510100"
DESTINATION = "110000"


def policy(region_code: str | None = INSURED, rules: dict | None = None, **fields) -> FilingPolicy:
    """A policy for an area (None: the default one) with the national rules, `fields` and per-group overrides
    in `rules` ({group: {field: value}})."""
    obj, _ = FilingPolicy.objects.update_or_create(region_id=region_code, defaults=fields)
    for group, values in NATIONAL_DEFAULT_RULES.items():
        merged = {**values, **(rules or {}).get(group, {})}
        merged["materials"] = [str(m) for m in merged.get("materials", [])]
        GroupRule.objects.update_or_create(policy=obj, group=group, defaults=merged)
    return obj


def hospital(region_code: str = DESTINATION, area: str = "110105", **kwargs):
    return InstitutionFactory(region_code=region_code, area=area, **kwargs)


def reviewer(region_code: str = INSURED):
    return ReviewerFactory(region_code=region_code)


def draft(
    person,
    *,
    group: str = FilingGroup.RESIDENT,
    destination: str = DESTINATION,
    start_date=None,
    commitment: bool = True,
    **kwargs,
):
    return filing_create_draft(
        person=person,
        actor=person.user,
        group=group,
        destination=destination,
        start_date=start_date or today(),
        commitment=commitment,
        **kwargs,
    )


def submitted(person, **kwargs):
    """A filing waiting for review (the area's policy must not approve it at once)."""
    return filing_submit(filing=draft(person, **kwargs), actor=person.user)


def approved(person, *, by=None, **kwargs):
    filing = submitted(person, **kwargs)
    if filing.status == "submitted":
        filing = filing_approve(filing=filing, actor=by or reviewer(person.insured_region_id))
    return filing


def with_document(filing, kind: str, actor=None):
    return document_add(filing=filing, actor=actor or filing.person.user, upload=png_upload(), kind=kind)


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


# --- Files ---


def png_bytes(size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 30, 200)).save(out, format="JPEG")
    return out.getvalue()


PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def png_upload(name: str = "scan.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def jpeg_upload(name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(), content_type="image/jpeg")


def pdf_upload(name: str = "proof.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")
