"""Settlement over the API: a counter settles and reverses; a person and a counter read. Thin views; every
decision is in `settlement.services`."""

from decimal import Decimal

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter
from core.db import replica_reads
from core.errors import ErrorSerializer  # the one "Error" component of the schema
from core.pagination import Pagination

from .choices import VisitType
from .errors import SettlementErrorCode
from .selectors import settlement_get, settlements_list
from .services import ItemInput, settlement_create, settlement_reverse

ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


class ItemInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=50, help_text="National code in the treatment place's catalogue.")
    quantity = serializers.DecimalField(max_digits=12, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=4, help_text="Yuan.")
    name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown for items not in the catalogue.",
    )

    def validate_quantity(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError(
                "The quantity must be positive.", code=SettlementErrorCode.INVALID_QUANTITY.value
            )
        return value

    def validate_unit_price(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError(
                "The unit price cannot be negative.", code=SettlementErrorCode.INVALID_PRICE.value
            )
        return value


class SettlementCreateInputSerializer(serializers.Serializer):
    use_id = serializers.IntegerField(
        required=False, min_value=1, help_text="The use id returned by POST /api/v1/ecode/consume."
    )
    filing_id = serializers.IntegerField(
        required=False, min_value=1, help_text="Inpatient discharge without a scan: the filing…"
    )
    id_number = serializers.CharField(required=False, max_length=18, help_text="…and the person's ID number.")
    visit_type = serializers.CharField(max_length=30)
    visit_date = serializers.DateField(required=False)
    admission_date = serializers.DateField(required=False)
    discharge_date = serializers.DateField(required=False)
    emergency = serializers.BooleanField(
        default=False, help_text="Emergency treatment: settled even without a filing."
    )
    request_no = serializers.CharField(
        required=False,
        max_length=64,
        allow_blank=True,
        default="",
        help_text="Unique per institution; a retry returns the first result.",
    )
    items = ItemInputSerializer(many=True, allow_empty=False, max_length=1000)

    def validate_visit_type(self, value: str) -> str:
        if value not in VisitType.values:
            raise serializers.ValidationError(
                "Unknown visit type.", code=SettlementErrorCode.INVALID_VISIT_TYPE.value
            )
        return value


class SettlementReverseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, max_length=200, allow_blank=True, default="")


class SettlementLineSerializer(serializers.Serializer):
    line_no = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    coverage_class = serializers.CharField(help_text="A (甲), B (乙), C (丙); empty: not in the catalogue.")
    in_catalogue = serializers.BooleanField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=4)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    self_paid = serializers.DecimalField(max_digits=14, decimal_places=2)
    first_share = serializers.DecimalField(max_digits=14, decimal_places=2)
    eligible = serializers.DecimalField(max_digits=14, decimal_places=2)


def _money():
    return serializers.DecimalField(max_digits=14, decimal_places=2)


class SettlementSerializer(serializers.Serializer):
    """A settlement and its itemised split; every amount in yuan as a string with two decimals."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    person = serializers.SerializerMethodField()
    institution = serializers.SerializerMethodField()
    visit_type = serializers.CharField()
    visit_date = serializers.DateField()
    admission_date = serializers.DateField(allow_null=True)
    discharge_date = serializers.DateField(allow_null=True)
    filing_id = serializers.IntegerField(allow_null=True)
    filing_group = serializers.CharField()
    emergency = serializers.BooleanField()
    request_no = serializers.CharField()
    use_id = serializers.IntegerField(source="code_event_id", allow_null=True)
    total = _money()
    self_paid = _money()
    first_share = _money()
    eligible = _money()
    deductible = _money()
    ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    basic_fund = _money()
    critical_fund = _money()
    assistance_fund = _money()
    fund_total = _money()
    person_pays = _money()
    fund_ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    settled_at = serializers.DateTimeField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    receipt_url = serializers.SerializerMethodField()
    lines = SettlementLineSerializer(many=True)

    def get_person(self, obj) -> dict:
        return {
            "masked_name": obj.person.masked_name,
            "masked_id_number": obj.person.masked_id_number,
            "insured_region": obj.insured_region_id,
            "scheme": obj.scheme,
        }

    def get_institution(self, obj) -> dict:
        return {
            "code": obj.institution.code,
            "name": obj.institution.name,
            "level": obj.institution_level,
            "region": obj.institution.region_id,
        }

    def get_receipt_url(self, obj) -> str:
        return reverse("settlement-receipt", args=[obj.pk])


def _settlement_response(request, settlement_id: int, status_code=status.HTTP_200_OK) -> Response:
    settlement = settlement_get(user=request.user, settlement_id=settlement_id)
    return Response(SettlementSerializer(settlement).data, status=status_code)


class SettlementListCreateApi(APIView):
    """GET: settlements the caller may see, newest first. POST (counter): settle a bill."""

    def get_permissions(self):
        return [IsCounter()] if self.request.method == "POST" else [IsAuthenticated()]

    pagination_class = Pagination  # read by the schema too: the list is a page, not a bare array

    @extend_schema(operation_id="settlements_list", responses={200: SettlementSerializer(many=True)})
    @replica_reads()
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(settlements_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(SettlementSerializer(page, many=True).data)

    @extend_schema(
        operation_id="settlements_create",
        request=SettlementCreateInputSerializer,
        responses={201: SettlementSerializer, 200: SettlementSerializer, **ERRORS},
    )
    def post(self, request):
        data = SettlementCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        items = [ItemInput(**item) for item in values.pop("items")]
        settlement, created = settlement_create(operator=request.user, items=items, **values)
        return _settlement_response(
            request, settlement.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class SettlementDetailApi(APIView):
    """GET: one settlement the caller may see (a person their own, a counter its institution's)."""

    @extend_schema(
        operation_id="settlements_retrieve", responses={200: SettlementSerializer, 404: ErrorSerializer}
    )
    def get(self, request, settlement_id: int):
        return _settlement_response(request, settlement_id)


class SettlementReverseApi(APIView):
    """POST (counter): reverse a settlement of this institution on the day it was made."""

    permission_classes = [IsCounter]

    @extend_schema(
        operation_id="settlements_reverse",
        request=SettlementReverseInputSerializer,
        responses={200: SettlementSerializer, **ERRORS},
    )
    def post(self, request, settlement_id: int):
        data = SettlementReverseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settlement = settlement_reverse(
            settlement_id=settlement_id, operator=request.user, reason=data.validated_data["reason"]
        )
        return _settlement_response(request, settlement.pk)
