"""One shape for every API error: {"code", "message", "fields"}, the message in the request's language."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from .cache import OUTAGE_ERRORS, OUTAGE_RETRY_AFTER_SECONDS
from .errors import CommonErrorCode, ServiceError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.NotAuthenticated: CommonErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: CommonErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: CommonErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: CommonErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: CommonErrorCode.METHOD_NOT_ALLOWED,
    exceptions.UnsupportedMediaType: CommonErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.ParseError: CommonErrorCode.PARSE_ERROR,
    exceptions.Throttled: CommonErrorCode.THROTTLED,
}


def outage_message() -> str:
    return _("The service is briefly unavailable. Try again in a minute.")


def error_body(code: str, message: Any, fields: dict | None = None) -> dict:
    return {"code": code, "message": force_str(message), "fields": _stringify(fields or {})}


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify(v) for v in value]
    return force_str(value)


def _first_message(detail: Any) -> str | None:
    if isinstance(detail, dict):
        for value in detail.values():
            found = _first_message(value)
            if found:
                return found
    elif isinstance(detail, (list, tuple)):
        for value in detail:
            found = _first_message(value)
            if found:
                return found
    elif detail:
        return force_str(detail)
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OUTAGE_ERRORS):
        return Response(
            error_body(CommonErrorCode.SERVICE_UNAVAILABLE.value, outage_message()),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ServiceError):
        retry_after = getattr(exc, "retry_after", None)  # a refusal that ends by itself says when
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return Response(
            error_body(exc.code, exc.message, exc.fields), status=exc.status_code, headers=headers
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = detail
            non_field = detail.get("non_field_errors")
            message = _first_message(non_field) if non_field else _("Some fields are invalid.")
            code = _validation_code(detail) or CommonErrorCode.INVALID.value
        else:
            fields = {}
            message = _first_message(detail) or _("Invalid input.")
            code = _validation_code(detail) or CommonErrorCode.INVALID.value
        return Response(error_body(code, message, fields), status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        known = next((c.value for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        code = known or force_str(getattr(exc, "default_code", "error"))
        headers = {}
        auth_header, wait = getattr(exc, "auth_header", None), getattr(exc, "wait", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if wait:
            headers["Retry-After"] = str(int(wait))
        return Response(error_body(code, exc.detail), status=exc.status_code, headers=headers)
    return None


def _validation_code(detail: Any) -> str | None:
    """Return a domain code carried by a validation error (e.g. `invalid_id_number`), if exactly one is there."""
    codes: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, exceptions.ErrorDetail) and value.code not in (None, "invalid"):
            codes.add(str(value.code))

    walk(detail)
    generic = {
        "required",
        "null",
        "blank",
        "max_length",
        "min_length",
        "invalid_choice",
        "does_not_exist",
        "incorrect_type",
        "not_a_list",
        "empty",
        "max_value",
        "min_value",
        "max_digits",
        "max_decimal_places",
        "date",
        "datetime",
        "parse_error",
    }
    specific = codes - generic
    if len(specific) == 1:
        return specific.pop()
    return None
