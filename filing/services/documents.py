"""Who may add, open and remove a filing's supporting documents, and while it is in which state."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError
from core.errors import refusal as _error

from ..choices import DocumentKind
from ..documents import MAX_DOCUMENTS_PER_FILING, document_inspect
from ..errors import FilingErrorCode
from ..models import Filing, FilingDocument
from .transitions import AREA_REVIEWER, DOCUMENTS_EDITABLE, OWNER, _authorize, _locked


@transaction.atomic
def document_add(*, filing: Filing, actor, upload, kind: str) -> FilingDocument:
    """Attach a supporting document to a draft: PDF, JPEG or PNG (checked by content), size-limited, stored
    privately under a random name."""
    filing = _locked(filing)
    _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status not in DOCUMENTS_EDITABLE:
        raise ServiceError(
            FilingErrorCode.NOT_EDITABLE, _("Documents can be added to a draft only."), status=409
        )
    if kind not in DocumentKind.values:
        raise _error(FilingErrorCode.DOCUMENT_TYPE_NOT_ALLOWED, _("Unknown document kind."), "kind")
    if filing.documents.count() >= MAX_DOCUMENTS_PER_FILING:
        raise ServiceError(
            FilingErrorCode.TOO_MANY_DOCUMENTS,
            _("A filing can have at most %(count)d documents.") % {"count": MAX_DOCUMENTS_PER_FILING},
        )
    inspected = document_inspect(upload)
    document = FilingDocument(
        filing=filing,
        kind=kind,
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    document.file.save("upload", ContentFile(inspected.content), save=False)
    try:
        document.save()
        audit_record(
            actor=actor,
            action="filing.document_add",
            target=filing,
            from_state=filing.status,
            to_state=filing.status,
            data={"document": document.pk, "kind": kind, "size": document.size},
        )
    except Exception:
        # The file was written before the row; do not leave it behind.
        document.file.storage.delete(document.file.name)
        raise
    return document


def document_open_by_reviewer(*, document: FilingDocument, actor) -> FilingDocument:
    """Record that a reviewer opened a person's supporting document: access to personal material is audited.

    The event names the document (not the filing), so the person's status timeline stays about decisions.
    """
    audit_record(
        actor=actor,
        action="filing.document_opened",
        target=document,
        data={"filing": document.filing_id, "kind": document.kind},
    )
    return document


@transaction.atomic
def document_remove(*, document: FilingDocument, actor) -> None:
    """Remove a document from a draft; the file is deleted once the removal is committed."""
    filing = _locked(document.filing)
    _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status not in DOCUMENTS_EDITABLE:
        raise ServiceError(
            FilingErrorCode.NOT_EDITABLE, _("Documents can be removed from a draft only."), status=409
        )
    name, storage, pk, kind = document.file.name, document.file.storage, document.pk, document.kind
    FilingDocument.objects.filter(pk=pk).delete()
    audit_record(
        actor=actor,
        action="filing.document_remove",
        target=filing,
        from_state=filing.status,
        to_state=filing.status,
        data={"document": pk, "kind": kind},
    )
    transaction.on_commit(lambda: storage.delete(name))
