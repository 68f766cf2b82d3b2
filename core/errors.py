"""Domain errors: a stable machine-readable code, a human message in the user's language, an HTTP status.

Services raise `ServiceError` (or a subclass per app); the API exception handler turns it into
`{"code", "message", "fields"}` and the web views show its message. Each app lists its codes as a str Enum
(Saleor's pattern) so clients act on the code, never on the message.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class CommonErrorCode(str, Enum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PARSE_ERROR = "parse_error"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]  # not subscriptable at run time
    """Every API error: a stable code to act on, a message in the user's language, and per-field messages."""

    code = serializers.CharField()
    message = serializers.CharField()
    # The body's `fields` (DRF's metaclass takes declared fields off the class, so Serializer.fields stays).
    fields = serializers.DictField(child=serializers.JSONField())  # type: ignore[assignment]


class ServiceError(Exception):
    """A refused operation: nothing was changed, and the caller gets the code and message."""

    status_code = 400

    def __init__(
        self,
        code: str | Enum,
        message: Any,
        *,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        self.code = code.value if isinstance(code, Enum) else str(code)
        self.message = message
        self.fields = fields or {}
        if status is not None:
            self.status_code = status
        super().__init__(self.code)

    def __str__(self) -> str:  # never personal data: only the code reaches logs
        return self.code


def refusal(
    code: str | Enum, message: Any, field: str | None = None, *, status: int | None = None, **extra: Any
) -> ServiceError:
    """A ServiceError whose message is also the error of one input `field` (when given); `extra` adds fields."""
    fields: dict[str, Any] = {field: [message]} if field else {}
    fields.update(extra)
    return ServiceError(code, message, fields=fields, status=status)


class NotFound(ServiceError):
    status_code = 404

    def __init__(self, message: Any = None) -> None:
        super().__init__(CommonErrorCode.NOT_FOUND, message or _("Not found."))


class PermissionDenied(ServiceError):
    status_code = 403

    def __init__(self, message: Any = None) -> None:
        super().__init__(CommonErrorCode.PERMISSION_DENIED, message or _("You are not allowed to do this."))
