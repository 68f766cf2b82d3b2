"""The e-code API: a person's credential and codes, and the checks counters make.

Counters get 200 for an accepted code; 400 ``malformed`` for input that is not a 227-digit code; 403
``wrong_institution``; 422 for a well-formed code that is refused (``unsupported_version``, ``unknown_key``,
``bad_signature``, ``not_yet_valid``, ``expired``, ``unknown_subject``, ``credential_suspended``,
``credential_revoked``, ``already_used``). Every refusal has the shape ``{"code", "message", "fields"}`` plus
``event_id``, the record of the check.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter, IsInsuredPerson
from core.exceptions import error_body
from reference.choices import SCHEME_CODES

from . import qr
from .errors import EcodeErrorCode, verification_message, verification_status
from .selectors import code_events_for_person, credential_for_person
from .services import (
    VerificationResult,
    credential_activate,
    ecode_consume,
    ecode_verify,
    token_issue_for_person,
)

_ERROR = OpenApiResponse(description='{"code", "message", "fields"}')
_MAX_TOKEN_INPUT = 1000  # a scanner types 227 digits and an Enter; anything far longer is not a scan


# --- The person's side ---


@extend_schema_serializer(component_name="EcodeCredential")
class CredentialOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    activated_at = serializers.DateTimeField(allow_null=True)
    suspended_at = serializers.DateTimeField(allow_null=True)
    suspended_reason = serializers.CharField(allow_blank=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_reason = serializers.CharField(allow_blank=True)


def _credential_body(credential) -> dict:
    if credential is None:
        return {
            "status": "not_activated",
            "activated_at": None,
            "suspended_at": None,
            "suspended_reason": "",
            "revoked_at": None,
            "revoked_reason": "",
        }
    return CredentialOutputSerializer(credential).data


class CredentialApi(APIView):
    """The signed-in person's e-code credential and its state (``not_activated`` until activated)."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(responses={200: CredentialOutputSerializer})
    def get(self, request):
        return Response(_credential_body(credential_for_person(person=request.user.person)))


class ActivateApi(APIView):
    """Activate the signed-in person's e-code (once)."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(request=None, responses={201: CredentialOutputSerializer, 409: _ERROR})
    def post(self, request):
        credential = credential_activate(person=request.user.person, actor=request.user)
        return Response(_credential_body(credential), status=201)


class CurrentTokenApi(APIView):
    """A fresh code for the signed-in person: show it until ``refresh_after``; it dies at ``expires_at``."""

    permission_classes = [IsInsuredPerson]

    @extend_schema_serializer(component_name="EcodeCurrentToken")
    class OutputSerializer(serializers.Serializer):
        """A fresh e-code."""

        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        refresh_after = serializers.DateTimeField()

    @extend_schema(responses={200: OutputSerializer, 409: _ERROR})
    def get(self, request):
        issued = token_issue_for_person(person=request.user.person)
        response = Response(self.OutputSerializer(issued).data)
        response["Cache-Control"] = "no-store"
        return response


class _JsonErrorsOnly(BaseContentNegotiation):
    """Images are returned as they are; errors always as JSON, whatever the Accept header asks for."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _CurrentImageApi(APIView):
    permission_classes = [IsInsuredPerson]
    content_negotiation_class = _JsonErrorsOnly
    content_type = ""

    def render(self, token: str) -> bytes | str:
        raise NotImplementedError

    def get(self, request):
        issued = token_issue_for_person(person=request.user.person)
        response = HttpResponse(self.render(issued.token), content_type=self.content_type)
        response["Cache-Control"] = "no-store"
        return response


class CurrentSvgApi(_CurrentImageApi):
    """The QR image (SVG) of a fresh code for the signed-in person."""

    content_type = "image/svg+xml"

    def render(self, token: str) -> str:
        return qr.render_svg(token)

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, 409: _ERROR})
    def get(self, request):
        return super().get(request)


class CurrentPngApi(_CurrentImageApi):
    """The QR image (PNG) of a fresh code for the signed-in person."""

    content_type = "image/png"

    def render(self, token: str) -> bytes:
        return qr.render_png(token)

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 409: _ERROR})
    def get(self, request):
        return super().get(request)


class HistoryApi(ListAPIView):
    """Where and when the signed-in person's codes were checked or used, newest first (paginated)."""

    permission_classes = [IsInsuredPerson]

    @extend_schema_serializer(component_name="EcodeEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        kind = serializers.CharField()
        result = serializers.CharField()
        institution_code = serializers.CharField(source="institution.code")
        institution_name = serializers.CharField(source="institution.name")
        institution_kind = serializers.CharField(source="institution.kind")

    serializer_class = OutputSerializer

    def get_queryset(self):
        return code_events_for_person(person=self.request.user.person)


# --- The counter's side ---


@extend_schema_field(OpenApiTypes.STR)
class TokenField(serializers.Field):
    """The scanned text, as typed by a scanner gun: a JSON string, checked by the service."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > _MAX_TOKEN_INPUT:
            raise serializers.ValidationError(
                verification_message(EcodeErrorCode.MALFORMED), code="malformed"
            )
        return data

    def to_representation(self, value):
        return value


@extend_schema_serializer(component_name="EcodeCheck")
class CheckInputSerializer(serializers.Serializer):
    token = TokenField(help_text="The 227 digits of the e-code, as scanned.")
    request_no = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The counter's own number for this request; a retry with the same number gets the same answer.",
    )
    institution_code = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="The institution the terminal believes it serves; refused unless it is the key's own.",
    )


@extend_schema_serializer(component_name="EcodeCheckResult")
class CheckOutputSerializer(serializers.Serializer):
    """An accepted code: who it belongs to (masked) and their filing for this institution today."""

    valid = serializers.BooleanField()
    code = serializers.CharField()
    message = serializers.CharField()
    event_id = serializers.IntegerField()
    use_id = serializers.IntegerField(allow_null=True)
    person = serializers.DictField()
    filing_in_force = serializers.DictField(allow_null=True)
    coverage = serializers.DictField()
    token = serializers.DictField()


_REQUEST_NO_MAX = CheckInputSerializer().fields["request_no"].max_length
_INSTITUTION_CODE_MAX = CheckInputSerializer().fields["institution_code"].max_length


def check_input(data) -> dict:
    """The validated input of a check. A scan in the usual shape (a JSON object of plain strings within their
    lengths) is taken as CheckInputSerializer would take it, without building one per scan; anything else goes
    through the serializer, for its errors."""
    if type(data) is dict and type(data.get("token")) is str and len(data["token"]) <= _MAX_TOKEN_INPUT:
        request_no, code = data.get("request_no", ""), data.get("institution_code", "")
        if _plain(request_no, _REQUEST_NO_MAX) and _plain(code, _INSTITUTION_CODE_MAX):
            return {
                "token": data["token"],
                "request_no": request_no.strip(),
                "institution_code": code.strip(),
            }
    serializer = CheckInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return {"request_no": "", "institution_code": "", **serializer.validated_data}


def _plain(value, max_length: int) -> bool:
    # A string that CharField takes as it is but for trimming: printable ASCII, within its length once trimmed.
    return type(value) is str and value.isascii() and value.isprintable() and len(value.strip()) <= max_length


def _date(value):
    return value.isoformat() if value else None


def _filing_body(coverage) -> dict | None:
    filing = getattr(coverage, "filing", None)
    if filing is None:
        return None
    group = filing.group
    destination = filing.destination
    return {
        "group": getattr(group, "code", group),
        "destination": destination.code,
        "destination_name": destination.full_name,
        "start_date": _date(filing.start_date),
        "end_date": _date(filing.end_date),
        "direct_settlement": bool(coverage.applies),
    }


def check_body(result: VerificationResult) -> dict:
    """The JSON a counter gets for an accepted code."""
    coverage = result.coverage
    return {
        "valid": True,
        "code": result.code,
        "message": result.message,
        "event_id": result.event_id,
        "use_id": result.use_id,
        "person": {
            "name": result.masked_name,
            "id_number": result.masked_id_number,
            "insured_region": result.insured_region_code,
            "insured_region_name": result.insured_region_name,
            "scheme": result.scheme,
            "scheme_code": SCHEME_CODES.get(result.scheme),
        },
        "filing_in_force": _filing_body(coverage),
        "coverage": {
            "applies": bool(getattr(coverage, "applies", False)),
            "reason": str(getattr(coverage, "reason", "no_filing")),
        },
        "token": {
            "issued_at": _date(result.issued_at),
            "expires_at": _date(result.expires_at),
            "filing_in_force": result.claims_filing_in_force,
        },
    }


def _check_response(result: VerificationResult) -> Response:
    if result.valid:
        return Response(check_body(result))
    # The field a counter should look at: the institution it claimed, or else the scanned code.
    field = "institution_code" if result.code == EcodeErrorCode.WRONG_INSTITUTION else "token"
    body = error_body(result.code, result.message, {field: [result.message]})
    body["event_id"] = result.event_id
    return Response(body, status=verification_status(result.code))


class _CheckApi(APIView):
    permission_classes = [IsCounter]
    check = staticmethod(ecode_verify)

    def post(self, request):
        values = check_input(request.data)
        result = self.check(
            token=values["token"],
            operator=request.user,
            request_no=values.get("request_no") or None,
            api_key=request.auth if hasattr(request.auth, "prefix") else None,
            institution_code=values.get("institution_code") or None,
        )
        return _check_response(result)


_CHECK_RESPONSES = {200: CheckOutputSerializer, 400: _ERROR, 403: _ERROR, 409: _ERROR, 422: _ERROR}


class VerifyApi(_CheckApi):
    """Check a scanned e-code at this counter: the person (masked) and their filing here today."""

    @extend_schema(request=CheckInputSerializer, responses=_CHECK_RESPONSES)
    def post(self, request):
        return super().post(request)


class ConsumeApi(_CheckApi):
    """Check a scanned e-code and use it for settlement, once; ``use_id`` is what the settlement refers to."""

    check = staticmethod(ecode_consume)

    @extend_schema(request=CheckInputSerializer, responses=_CHECK_RESPONSES)
    def post(self, request):
        return super().post(request)
