"""The e-code API: a person's credential and codes, and the checks counters make.

Counters get 200 for an accepted code, with ``settlement_here`` saying whether the bill can be settled directly
at this institution (else ``coverage.reason`` says why not); 400 ``malformed`` for input that is not a 227-digit
code; 403 ``wrong_institution``; 409 ``not_covered`` for a use that could not be settled here (the code stays
unused); 422 for a well-formed code that is refused (``unsupported_version``, ``unknown_key``,
``bad_signature``, ``not_yet_valid``, ``expired``, ``unknown_subject``, ``credential_suspended``,
``credential_revoked``, ``already_used``, the latter with ``used``: when and where). Every refusal has the shape
``{"code", "message", "fields"}`` plus ``valid: false``, ``event_id`` (the record of the check), ``used`` and
``coverage``.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter, IsInsuredPerson
from core.db import for_reading
from core.errors import ErrorSerializer, error_body  # the one "Error" component of the schema
from filing.choices import CoverageReason, FilingGroup
from filing.coverage import Coverage
from reference.choices import SCHEME_CODES, Scheme

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

    @extend_schema(request=None, responses={201: CredentialOutputSerializer, 409: ErrorSerializer})
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

    @extend_schema(responses={200: OutputSerializer, 409: ErrorSerializer})
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

    @extend_schema(responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, 409: ErrorSerializer})
    def get(self, request):
        return super().get(request)


class CurrentPngApi(_CurrentImageApi):
    """The QR image (PNG) of a fresh code for the signed-in person."""

    content_type = "image/png"

    def render(self, token: str) -> bytes:
        return qr.render_png(token)

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 409: ErrorSerializer})
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
        return for_reading(code_events_for_person(person=self.request.user.person))


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


@extend_schema_serializer(component_name="EcodeConsume")
class ConsumeInputSerializer(CheckInputSerializer):
    emergency = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "An emergency (急诊抢救): treated as filed, so the code is used although no filing is in force here "
            "(where coverage.emergency_possible); settle the bill with emergency: true."
        ),
    )


@extend_schema_serializer(component_name="EcodeCheckPerson")
class CheckPersonSerializer(serializers.Serializer):
    """The code's owner, masked."""

    name = serializers.CharField(help_text="Masked name, e.g. 张*明.")
    id_number = serializers.CharField(help_text="Masked ID number.")
    insured_region = serializers.CharField(help_text="GB/T 2260 code of the insured area.")
    insured_region_name = serializers.CharField()
    scheme = serializers.ChoiceField(choices=Scheme.choices)
    scheme_code = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="EcodeCheckFiling")
class CheckFilingSerializer(serializers.Serializer):
    """The filing in force that speaks for the person here (or, when none applies here, the one elsewhere)."""

    group = serializers.ChoiceField(choices=FilingGroup.choices)
    destination = serializers.CharField()
    destination_name = serializers.CharField()
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    direct_settlement = serializers.BooleanField()


@extend_schema_serializer(component_name="EcodeCheckCoverage")
class CheckCoverageSerializer(serializers.Serializer):
    """Whether direct settlement applies at this institution today, and why (not)."""

    applies = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=CoverageReason.choices,
        help_text="ok, or why there is no direct settlement here: no_filing, other_destination, "
        "institution_not_picked, institution_not_networked.",
    )
    message = serializers.CharField(
        help_text="The reason in the request's language (Chinese default, English)."
    )
    emergency_possible = serializers.BooleanField(
        help_text="Whether a use as an emergency (treated as filed) is settled here all the same."
    )


@extend_schema_serializer(component_name="EcodeCheckToken")
class CheckTokenSerializer(serializers.Serializer):
    issued_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    filing_in_force = serializers.BooleanField(
        allow_null=True, help_text="The filing flag the code carried when it was issued."
    )


@extend_schema_serializer(component_name="EcodeCheckResult")
class CheckOutputSerializer(serializers.Serializer):
    """An accepted code: who it belongs to (masked), whether the bill can be settled directly here, and why."""

    valid = serializers.BooleanField(help_text="Always true here: a refused code gets a 4xx.")
    code = serializers.CharField(help_text="ok")
    message = serializers.CharField(help_text="What happened, in the request's language.")
    settlement_here = serializers.BooleanField(
        help_text="Whether the bill can be settled directly at this institution (a filing is in force here). "
        "When false, coverage.reason says why; a use is then refused unless it is an emergency."
    )
    event_id = serializers.IntegerField()
    use_id = serializers.IntegerField(allow_null=True, help_text="For a use: what the settlement refers to.")
    emergency = serializers.BooleanField(
        help_text="For a use: accepted only as an emergency, so the bill is settled with emergency: true."
    )
    person = CheckPersonSerializer()
    filing_in_force = CheckFilingSerializer(allow_null=True)
    coverage = CheckCoverageSerializer()
    token = CheckTokenSerializer()


@extend_schema_serializer(component_name="EcodeCheckUsed")
class CheckUsedSerializer(serializers.Serializer):
    """When and where an ``already_used`` code was used: the institution only if it is this one."""

    at = serializers.DateTimeField(help_text="When, in Asia/Shanghai time.")
    here = serializers.BooleanField(help_text="Whether it was used at this institution.")
    institution_code = serializers.CharField(allow_null=True)
    institution_name = serializers.CharField(allow_null=True)
    use_id = serializers.IntegerField(allow_null=True, help_text="The use to settle, if it was used here.")


@extend_schema_serializer(component_name="EcodeCheckRefusal")
class CheckRefusalSerializer(serializers.Serializer):
    """A refused code (or a refused use): nothing was used; the check is recorded as ``event_id``."""

    valid = serializers.BooleanField(help_text="Always false.")
    settlement_here = serializers.BooleanField(help_text="Always false.")
    code = serializers.CharField(
        help_text="malformed, unsupported_version, unknown_key, bad_signature, not_yet_valid, expired, "
        "unknown_subject, credential_suspended, credential_revoked, already_used, wrong_institution, not_covered."
    )
    message = serializers.CharField(help_text="What happened and what to do, in the request's language.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    event_id = serializers.IntegerField()
    used = CheckUsedSerializer(
        allow_null=True, help_text="For already_used, when the use's record was found."
    )
    coverage = CheckCoverageSerializer(allow_null=True, help_text="For not_covered: why.")


_REQUEST_NO_MAX = CheckInputSerializer().fields["request_no"].max_length
_INSTITUTION_CODE_MAX = CheckInputSerializer().fields["institution_code"].max_length


@lru_cache(maxsize=4)
def _more_fields(serializer_class) -> dict:
    # The fields a check's serializer has beyond CheckInputSerializer's, with their defaults.
    base = CheckInputSerializer().fields
    return {name: f.default for name, f in serializer_class().fields.items() if name not in base}


def check_input(data, serializer_class=CheckInputSerializer) -> dict:
    """The validated input of a check. A scan in the usual shape (a JSON object of plain strings within their
    lengths, none of the serializer's further fields) is taken as the serializer would take it, without
    building one per scan; anything else goes through the serializer, for its errors."""
    more = _more_fields(serializer_class)
    if (
        type(data) is dict
        and type(data.get("token")) is str
        and len(data["token"]) <= _MAX_TOKEN_INPUT
        and data.keys().isdisjoint(more)
    ):
        request_no, code = data.get("request_no", ""), data.get("institution_code", "")
        if _plain(request_no, _REQUEST_NO_MAX) and _plain(code, _INSTITUTION_CODE_MAX):
            return {
                "token": data["token"],
                "request_no": request_no.strip(),
                "institution_code": code.strip(),
                **more,
            }
    serializer = serializer_class(data=data)
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


def _coverage_body(coverage, *, emergency_possible: bool) -> dict | None:
    if coverage is None:
        return None
    return {
        "applies": bool(coverage.applies),
        "reason": str(coverage.reason),
        "message": coverage.message,
        "emergency_possible": emergency_possible,
    }


def check_body(result: VerificationResult) -> dict:
    """The JSON a counter gets for an accepted code."""
    coverage = result.coverage
    return {
        "valid": True,
        "code": result.code,
        "message": result.message,
        "settlement_here": result.settlement_here,
        "event_id": result.event_id,
        "use_id": result.use_id,
        "emergency": result.emergency,
        "person": {
            "name": result.masked_name,
            "id_number": result.masked_id_number,
            "insured_region": result.insured_region_code,
            "insured_region_name": result.insured_region_name,
            "scheme": result.scheme,
            "scheme_code": SCHEME_CODES.get(result.scheme),
        },
        "filing_in_force": _filing_body(coverage),
        "coverage": _coverage_body(
            coverage or Coverage(None, False, CoverageReason.NO_FILING.value),
            emergency_possible=result.emergency_possible,
        ),
        "token": {
            "issued_at": _date(result.issued_at),
            "expires_at": _date(result.expires_at),
            "filing_in_force": result.claims_filing_in_force,
        },
    }


def used_body(result: VerificationResult) -> dict | None:
    """When and where an ``already_used`` code was used; the institution only if it is the counter's own."""
    use = result.prior_use
    if use is None:
        return None
    here = result.used_here
    return {
        "at": timezone.localtime(use.at).isoformat(),
        "here": here,
        "institution_code": result.institution.code if here else None,
        "institution_name": result.institution.name if here else None,
        "use_id": use.use_id if here else None,
    }


_RENDERER = JSONRenderer()


def _json_response(body: dict, status: int = 200) -> HttpResponse:
    # The counter's answer rendered as a Response would be (the same renderer), without a TemplateResponse.
    return HttpResponse(_RENDERER.render(body), status=status, content_type=_RENDERER.media_type)


def _check_response(result: VerificationResult) -> HttpResponse:
    if result.valid:
        return _json_response(check_body(result))
    # The field a counter should look at: the institution it claimed, or else the scanned code.
    field = "institution_code" if result.code == EcodeErrorCode.WRONG_INSTITUTION else "token"
    body = error_body(result.code, result.message, {field: [result.message]})
    body.update(
        valid=False,
        settlement_here=False,
        event_id=result.event_id,
        used=used_body(result),
        coverage=_coverage_body(result.coverage, emergency_possible=result.emergency_possible),
    )
    return _json_response(body, status=verification_status(result.code))


class _JsonOnly(DefaultContentNegotiation):
    """A counter endpoint speaks JSON only: the body must be JSON (else 415) and the answer is JSON whatever
    the Accept header asks for, without parsing that header on every scan."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _CheckApi(APIView):
    permission_classes = [IsCounter]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonOnly
    check = staticmethod(ecode_verify)
    input_serializer = CheckInputSerializer

    def post(self, request):
        values = check_input(request.data, self.input_serializer)
        extra = {"emergency": values["emergency"]} if "emergency" in values else {}
        result = self.check(
            token=values["token"],
            operator=request.user,
            request_no=values.get("request_no") or None,
            api_key=request.auth if hasattr(request.auth, "prefix") else None,
            institution_code=values.get("institution_code") or None,
            **extra,
        )
        return _check_response(result)


_CHECK_RESPONSES = {
    200: CheckOutputSerializer,
    400: ErrorSerializer,
    403: CheckRefusalSerializer,
    409: ErrorSerializer,  # duplicate_request_no: the number was used for another request
    422: CheckRefusalSerializer,
}


class VerifyApi(_CheckApi):
    """Check a scanned e-code at this counter: the person (masked), whether the bill can be settled directly
    here (``settlement_here``, else ``coverage.reason``), or why the code is refused (a used code: when and
    where). The code stays usable."""

    @extend_schema(request=CheckInputSerializer, responses=_CHECK_RESPONSES)
    def post(self, request):
        return super().post(request)


class ConsumeApi(_CheckApi):
    """Check a scanned e-code and use it for settlement, once; ``use_id`` is what the settlement refers to. A
    person with no filing in force here is refused (409 ``not_covered``, the code stays unused) unless
    ``emergency``."""

    check = staticmethod(ecode_consume)
    input_serializer = ConsumeInputSerializer

    @extend_schema(
        request=ConsumeInputSerializer,
        responses={
            **_CHECK_RESPONSES,
            409: OpenApiResponse(
                response=CheckRefusalSerializer,
                description="not_covered: no direct settlement here, the code was not used (coverage says "
                "why); or duplicate_request_no, as {code, message, fields}.",
            ),
        },
    )
    def post(self, request):
        return super().post(request)
