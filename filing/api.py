"""The person's filings over the API: thin views that hand every decision to `filing.services`."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsInsuredPerson
from core.db import replica_reads
from core.errors import ErrorSerializer  # the one "Error" component of the schema
from core.pagination import Pagination

from .choices import PERSON_CHANNELS, Channel, DocumentKind, FilingGroup, ProxyRelation
from .documents import document_file_response
from .selectors import (
    document_get_for_person,
    filing_get_for_person,
    filing_rules_preview,
    filings_for_person,
)
from .serializers import (
    FilingDocumentSerializer,
    FilingSerializer,
    RulesPreviewSerializer,
)
from .services import (
    document_add,
    document_remove,
    filing_cancel,
    filing_create_draft,
    filing_submit,
    filing_update_draft,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request with the same key to get the same result instead of a second filing.",
)
ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


def _idempotency_key(request) -> str | None:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    return key[:64] or None


def _filing_response(request, filing, status_code=status.HTTP_200_OK) -> Response:
    # Re-read through the selector so the shape (picks, documents) is the one lists give.
    filing = filing_get_for_person(person=request.user.person, filing_id=filing.pk)
    return Response(FilingSerializer(filing, context={"request": request}).data, status=status_code)


class ProxyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    id_number = serializers.CharField(max_length=18)
    phone = serializers.CharField(max_length=20)
    relation = serializers.ChoiceField(choices=ProxyRelation.choices)


class FilingCreateInputSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=FilingGroup.choices)
    destination = serializers.CharField(max_length=6, help_text="Region code: a pooling area or a province.")
    start_date = serializers.DateField()
    end_date = serializers.DateField(
        required=False, allow_null=True, help_text="Temporary groups only; default: the shortest validity."
    )
    institutions = serializers.ListField(
        child=serializers.CharField(max_length=12),
        required=False,
        max_length=20,
        help_text="Institution codes, in order of preference.",
    )
    commitment = serializers.BooleanField(
        default=False, help_text="Sign a personal commitment instead of proofs."
    )
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in PERSON_CHANNELS], default=Channel.MINI_PROGRAM
    )
    destination_address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    proxy = ProxyInputSerializer(
        required=False, allow_null=True, help_text="A family member filing for the person."
    )
    supersedes = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of the approved filing this one changes."
    )


class FilingUpdateInputSerializer(serializers.Serializer):
    """Only the fields sent are changed; `proxy: null` removes the proxy applicant."""

    group = serializers.ChoiceField(choices=FilingGroup.choices, required=False)
    destination = serializers.CharField(max_length=6, required=False)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)
    institutions = serializers.ListField(
        child=serializers.CharField(max_length=12), required=False, max_length=20
    )
    commitment = serializers.BooleanField(required=False)
    channel = serializers.ChoiceField(choices=[(c.value, c.label) for c in PERSON_CHANNELS], required=False)
    destination_address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    proxy = ProxyInputSerializer(required=False, allow_null=True)


class FilingListCreateApi(APIView):
    """GET: the person's filings, newest first (paginated). POST: create a draft filing."""

    permission_classes = [IsInsuredPerson]
    pagination_class = Pagination  # read by the schema too: the list is a page, not a bare array

    @extend_schema(
        operation_id="filings_list", summary="List my filings", responses={200: FilingSerializer(many=True)}
    )
    @replica_reads()
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(filings_for_person(person=request.user.person), request, view=self)
        return paginator.get_paginated_response(
            FilingSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        operation_id="filings_create",
        summary="Create a draft filing",
        request=FilingCreateInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: FilingSerializer, **ERRORS},
    )
    def post(self, request):
        data = FilingCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        person = request.user.person
        supersedes_id = values.pop("supersedes", None)
        supersedes = filing_get_for_person(person=person, filing_id=supersedes_id) if supersedes_id else None
        filing = filing_create_draft(
            person=person,
            actor=request.user,
            supersedes=supersedes,
            idempotency_key=_idempotency_key(request),
            **values,
        )
        return _filing_response(request, filing, status.HTTP_201_CREATED)


class FilingDetailApi(APIView):
    """GET: one of the person's filings. PATCH: change a draft."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_retrieve",
        summary="Get one of my filings",
        responses={200: FilingSerializer, 404: ErrorSerializer},
    )
    def get(self, request, filing_id: int):
        filing = filing_get_for_person(person=request.user.person, filing_id=filing_id)
        return Response(FilingSerializer(filing, context={"request": request}).data)

    @extend_schema(
        operation_id="filings_update",
        summary="Change a draft filing",
        request=FilingUpdateInputSerializer,
        responses={200: FilingSerializer, **ERRORS},
    )
    def patch(self, request, filing_id: int):
        filing = filing_get_for_person(person=request.user.person, filing_id=filing_id)
        data = FilingUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        filing = filing_update_draft(filing=filing, actor=request.user, **data.validated_data)
        return _filing_response(request, filing)


class FilingSubmitApi(APIView):
    """Submit a draft for review (approved at once where the insured area's rules say so)."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_submit",
        summary="Submit a draft filing",
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: FilingSerializer, **ERRORS},
    )
    def post(self, request, filing_id: int):
        filing = filing_get_for_person(person=request.user.person, filing_id=filing_id)
        filing = filing_submit(filing=filing, actor=request.user, idempotency_key=_idempotency_key(request))
        return _filing_response(request, filing)


class FilingCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class FilingCancelApi(APIView):
    """Cancel a filing: discard a draft, withdraw a submission, or end an approved filing."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_cancel",
        summary="Cancel a filing",
        request=FilingCancelInputSerializer,
        responses={200: FilingSerializer, **ERRORS},
    )
    def post(self, request, filing_id: int):
        filing = filing_get_for_person(person=request.user.person, filing_id=filing_id)
        data = FilingCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = filing_cancel(
            filing=filing, actor=request.user, reason=data.validated_data.get("reason", "")
        )
        return _filing_response(request, filing)


class DocumentUploadInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    file = serializers.FileField(help_text="PDF, JPEG or PNG, at most 10 MB.")


class FilingDocumentUploadApi(APIView):
    """Upload a supporting document to a draft (multipart: `kind`, `file`)."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_documents_create",
        summary="Upload a supporting document",
        request={"multipart/form-data": DocumentUploadInputSerializer},
        responses={201: FilingDocumentSerializer, **ERRORS},
    )
    def post(self, request, filing_id: int):
        filing = filing_get_for_person(person=request.user.person, filing_id=filing_id)
        data = DocumentUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = document_add(
            filing=filing,
            actor=request.user,
            upload=data.validated_data["file"],
            kind=data.validated_data["kind"],
        )
        return Response(
            FilingDocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class FilingDocumentApi(APIView):
    """GET: download one of the filing's documents. DELETE: remove it from a draft."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_documents_retrieve",
        summary="Download a supporting document",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            404: ErrorSerializer,
        },
    )
    def get(self, request, filing_id: int, document_id: int):
        document = document_get_for_person(
            person=request.user.person, filing_id=filing_id, document_id=document_id
        )
        return document_file_response(document, as_attachment=True)

    @extend_schema(
        operation_id="filings_documents_destroy",
        summary="Remove a supporting document",
        responses={204: None, **ERRORS},
    )
    def delete(self, request, filing_id: int, document_id: int):
        document = document_get_for_person(
            person=request.user.person, filing_id=filing_id, document_id=document_id
        )
        document_remove(document=document, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FilingRulesInputSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=FilingGroup.choices)
    destination = serializers.CharField(max_length=6)


class FilingRulesApi(APIView):
    """Before filing: whether the person may file for a group and destination, and what it would take."""

    permission_classes = [IsInsuredPerson]

    @extend_schema(
        operation_id="filings_rules",
        summary="Preview eligibility and rules before filing",
        parameters=[FilingRulesInputSerializer],
        responses={200: RulesPreviewSerializer, **ERRORS},
    )
    def get(self, request):
        data = FilingRulesInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        preview = filing_rules_preview(person=request.user.person, **data.validated_data)
        return Response(RulesPreviewSerializer(preview).data)
