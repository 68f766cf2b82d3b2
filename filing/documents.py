"""Where filing documents are kept and what may be uploaded: PDF, JPEG or PNG, recognised by content."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from core.errors import ServiceError

from .errors import FilingErrorCode

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS_PER_FILING = 20
# Larger images are refused rather than decoded: a small file can expand to gigabytes of pixels.
MAX_IMAGE_PIXELS = 50_000_000

_PDF, _JPEG, _PNG = "application/pdf", "image/jpeg", "image/png"
_PILLOW_FORMATS = {_JPEG: "JPEG", _PNG: "PNG"}


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT/filing; they have no URL and are served only by views that check access."""

    def __init__(self):
        super().__init__(location=None, base_url=None)

    @cached_property
    def base_location(self):
        return str(Path(settings.PRIVATE_MEDIA_ROOT) / "filing")

    @cached_property
    def location(self):
        return str(Path(self.base_location).resolve())

    def url(self, name):
        raise ValueError("Filing documents have no public URL.")

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


def private_storage() -> PrivateStorage:
    return PrivateStorage()


def document_upload_to(instance, filename: str) -> str:
    """A random name: the uploaded file name may carry personal data and is never kept."""
    extension = {_PDF: "pdf", _JPEG: "jpg", _PNG: "png"}.get(getattr(instance, "content_type", ""), "bin")
    return f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{extension}"


@dataclass(frozen=True)
class InspectedUpload:
    content: bytes
    content_type: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def _not_allowed() -> ServiceError:
    return ServiceError(
        FilingErrorCode.DOCUMENT_TYPE_NOT_ALLOWED,
        _("Upload a PDF, JPEG or PNG file."),
        fields={"file": [_("Upload a PDF, JPEG or PNG file.")]},
    )


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return _PDF
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    return None


def _check_image(content: bytes, content_type: str) -> None:
    try:
        with Image.open(io.BytesIO(content)) as image:
            if image.format != _PILLOW_FORMATS[content_type]:
                raise _not_allowed()
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _not_allowed()
            image.verify()
        # verify() checks structure only; decoding the pixels catches truncated images.
        with Image.open(io.BytesIO(content)) as image:
            image.load()
    except ServiceError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _not_allowed() from None


def _check_pdf(content: bytes) -> None:
    # A PDF ends with %%EOF (a few trailing bytes are common); anything else is not a complete PDF.
    if b"%%EOF" not in content[-1024:]:
        raise _not_allowed()


def document_inspect(upload) -> InspectedUpload:
    """Read an uploaded file and return its content and real type, or refuse it (type or size)."""
    declared_size = getattr(upload, "size", None)
    if declared_size is not None and declared_size > MAX_DOCUMENT_BYTES:
        raise _too_large()
    if hasattr(upload, "seek"):
        upload.seek(0)
    content = upload.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise _too_large()
    if not content:
        raise ServiceError(
            FilingErrorCode.DOCUMENT_EMPTY,
            _("The file is empty."),
            fields={"file": [_("The file is empty.")]},
        )
    content_type = _sniff(content[:16])
    if content_type is None:
        raise _not_allowed()
    if content_type == _PDF:
        _check_pdf(content)
    else:
        _check_image(content, content_type)
    return InspectedUpload(
        content=content, content_type=content_type, sha256=hashlib.sha256(content).hexdigest()
    )


def _too_large() -> ServiceError:
    message = _("The file is larger than %(size)d MB.") % {"size": MAX_DOCUMENT_BYTES // (1024 * 1024)}
    return ServiceError(FilingErrorCode.DOCUMENT_TOO_LARGE, message, fields={"file": [message]})


def document_file_response(document, *, as_attachment: bool) -> FileResponse:
    """The stored file with its checked type; never sniffed by the browser, never cached by proxies."""
    response = FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        as_attachment=as_attachment,
        filename=document.download_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
