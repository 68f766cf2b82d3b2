"""Settlement over the API: a counter settles and reverses; a person and a counter read. Thin views; every
decision is in `settlement.services`."""

from dataclasses import asdict
from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsCounter, IsReviewer
from core.db import replica_reads
from core.errors import ErrorSerializer  # the one "Error" component of the schema
from core.pagination import Pagination
from reference.selectors import province_code

from .choices import VisitType
from .corrections import settlement_correct
from .errors import SettlementErrorCode
from .explain import settlement_explanations
from .selectors import catalogue_search, settlement_get, settlements_list
from .services import ItemInput, settlement_create, settlement_preview, settlement_reverse

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
    lmt_used_flag = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The item's restricted-use condition (限定支付范围) is met for this patient.",
    )

    def validate_quantity(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError(
                _("The quantity must be positive."), code=SettlementErrorCode.INVALID_QUANTITY.value
            )
        return value

    def validate_unit_price(self, value: Decimal) -> Decimal:
        if value < 0:
            raise serializers.ValidationError(
                _("The unit price cannot be negative."), code=SettlementErrorCode.INVALID_PRICE.value
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
    acct_used_flag = serializers.BooleanField(
        default=False,
        help_text="The person agrees to pay their share from their personal account (employees; outpatient).",
    )
    disease = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=20,
        help_text="Chronic/special-disease outpatient visits: the certified disease treated "
        "(hypertension, diabetes, tumour_therapy, uraemia_dialysis, anti_rejection).",
    )

    def validate_visit_type(self, value: str) -> str:
        if value not in VisitType.values:
            raise serializers.ValidationError(
                _("Unknown visit type."), code=SettlementErrorCode.INVALID_VISIT_TYPE.value
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
    overlmt_selfpay = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The part of self_paid above the item's payment standard."
    )
    self_pay_reason = serializers.CharField(
        help_text="Why the line is (partly) self-paid: not_in_catalogue, class_c, restricted_condition, "
        "restricted_level, over_price; empty otherwise."
    )


class RuleExplanationSerializer(serializers.Serializer):
    rule = serializers.CharField()
    fund = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    text = serializers.CharField(help_text="In the reader's language.")


def _money(**kwargs):
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class SettlementSerializer(serializers.Serializer):
    """A settlement and its itemised split; every amount in yuan as a string with two decimals."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    person = serializers.SerializerMethodField()
    institution = serializers.SerializerMethodField()
    visit_type = serializers.CharField()
    disease = serializers.CharField()
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
    overlmt_selfpay = _money()
    group_share = _money()
    deductible = _money()
    ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    basic_fund = _money()
    large_amount_fund = _money()
    critical_fund = _money()
    assistance_fund = _money()
    fund_total = _money()
    person_pays = _money()
    account_pay = _money()
    cash_pay = _money()
    account_balance_after = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="The personal account's balance after this settlement (null: the account was not used).",
    )
    fund_ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    settled_at = serializers.DateTimeField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    receipt_url = serializers.SerializerMethodField()
    lines = SettlementLineSerializer(many=True)
    rules = serializers.SerializerMethodField()

    @extend_schema_field(RuleExplanationSerializer(many=True))
    def get_rules(self, obj) -> list:
        """The benefit rules beyond the plain deductible and ratio, in plain words (settlement.explain)."""
        return RuleExplanationSerializer(settlement_explanations(obj), many=True).data

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


class SettlementPreviewSerializer(serializers.Serializer):
    """The split a bill would get if settled now (预结算); nothing is saved. Amounts as in a settlement."""

    person = serializers.SerializerMethodField()
    institution = serializers.SerializerMethodField()
    visit_type = serializers.CharField()
    visit_date = serializers.DateField(source="service_date")
    admission_date = serializers.DateField(allow_null=True)
    discharge_date = serializers.DateField(allow_null=True)
    filing_id = serializers.SerializerMethodField()
    filing_group = serializers.CharField()
    emergency = serializers.BooleanField()
    recorded_emergency = serializers.BooleanField(
        help_text="Settling will record the emergency as filed (there is no filing yet)."
    )
    use_id = serializers.SerializerMethodField()
    total = _money(source="split.total")
    self_paid = _money(source="split.self_paid")
    first_share = _money(source="split.first_share")
    eligible = _money(source="split.eligible")
    deductible = _money(source="split.deductible")
    ratio = serializers.DecimalField(max_digits=5, decimal_places=4, source="split.ratio")
    basic_fund = _money(source="split.basic_fund")
    critical_fund = _money(source="split.critical_fund")
    assistance_fund = _money(source="split.assistance")
    fund_total = _money(source="split.fund_total")
    person_pays = _money(source="split.person_pays")
    fund_ratio = serializers.DecimalField(max_digits=5, decimal_places=4, source="split.fund_ratio")
    lines = serializers.SerializerMethodField()

    def get_person(self, obj) -> dict:
        return {
            "masked_name": obj.person.masked_name,
            "masked_id_number": obj.person.masked_id_number,
            "insured_region": obj.person.insured_region_id,
            "scheme": obj.person.scheme,
        }

    def get_institution(self, obj) -> dict:
        return {
            "code": obj.institution.code,
            "name": obj.institution.name,
            "level": obj.institution.level,
            "region": obj.institution.region_id,
        }

    def get_filing_id(self, obj) -> int | None:
        return None if obj.filing is None else obj.filing.pk

    def get_use_id(self, obj) -> int | None:
        return None if obj.event is None else obj.event.pk

    @extend_schema_field(SettlementLineSerializer(many=True))
    def get_lines(self, obj) -> list:
        lines = [{"line_no": n, **asdict(line)} for n, line in enumerate(obj.split.lines, 1)]
        return SettlementLineSerializer(lines, many=True).data


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


class SettlementPreviewApi(APIView):
    """POST (counter): the split a bill would get if settled now; the same input and refusals, nothing saved."""

    permission_classes = [IsCounter]

    @extend_schema(
        operation_id="settlements_preview",
        request=SettlementCreateInputSerializer,
        responses={200: SettlementPreviewSerializer, **ERRORS},
    )
    def post(self, request):
        data = SettlementCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        items = [ItemInput(**item) for item in values.pop("items")]
        preview = settlement_preview(operator=request.user, items=items, **values)
        return Response(SettlementPreviewSerializer(preview).data)


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


class CorrectionLineInputSerializer(serializers.Serializer):
    line_no = serializers.IntegerField(min_value=1, help_text="The settlement line refunded.")
    quantity = serializers.DecimalField(
        max_digits=12, decimal_places=4, help_text="How much of the line is returned (at most what is left)."
    )


class SettlementCorrectionInputSerializer(serializers.Serializer):
    request_no = serializers.CharField(
        max_length=64,
        help_text="The caller's number for this refund: the same number returns the first answer.",
    )
    lines = CorrectionLineInputSerializer(many=True, allow_empty=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SettlementCorrectionSerializer(serializers.Serializer):
    """A refund of part of a bill after the settlement day: what each fund and the person give back."""

    id = serializers.IntegerField()
    number = serializers.CharField()
    settlement_id = serializers.IntegerField()
    request_no = serializers.CharField()
    reason = serializers.CharField()
    returned = serializers.JSONField(help_text='[{"line_no", "quantity", "amount"}]: what was returned.')
    total = _money()
    basic_fund = _money()
    large_amount_fund = _money()
    critical_fund = _money()
    assistance_fund = _money()
    fund_total = _money()
    person_pays = _money()
    account_pay = _money()
    created_at = serializers.DateTimeField()
    statement_id = serializers.IntegerField(
        allow_null=True, help_text="The clearing statement that carries it as an adjustment (null: not yet)."
    )


class SettlementCorrectionApi(APIView):
    """POST (counter of the institution, or reviewer of the insured area): record a refund of part of a bill
    settled on an earlier day. The same request number returns the first correction (200)."""

    permission_classes = [IsCounter | IsReviewer]

    @extend_schema(
        operation_id="settlements_correct",
        request=SettlementCorrectionInputSerializer,
        responses={201: SettlementCorrectionSerializer, 200: SettlementCorrectionSerializer, **ERRORS},
    )
    def post(self, request, settlement_id: int):
        data = SettlementCorrectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        correction, created = settlement_correct(
            settlement_id=settlement_id,
            actor=request.user,
            request_no=data.validated_data["request_no"],
            lines=[dict(row) for row in data.validated_data["lines"]],
            reason=data.validated_data["reason"],
        )
        return Response(
            SettlementCorrectionSerializer(correction).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CatalogueItemSerializer(serializers.Serializer):
    """An item of the treatment place's catalogue as a counter picks it for a bill."""

    code = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    category_label = serializers.CharField(source="get_category_display")
    coverage_class = serializers.CharField(help_text="A (甲), B (乙), C (丙).")
    first_share_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, source="effective_first_share"
    )
    unit = serializers.CharField()
    last_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        allow_null=True,
        help_text="The unit price this institution last billed for the item; null if never.",
    )


class CatalogueSearchInputSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=50, help_text="The start of a national code, or part of a name.")


class CatalogueSearchApi(APIView):
    """GET (counter): items of the institution's province catalogue matching a code or name, at most 20."""

    permission_classes = [IsCounter]

    @extend_schema(
        operation_id="settlements_catalogue_search",
        parameters=[CatalogueSearchInputSerializer],
        responses={200: CatalogueItemSerializer(many=True), 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        data = CatalogueSearchInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        institution = request.user.institution
        items = catalogue_search(
            province=province_code(institution.region_id),
            query=data.validated_data["q"],
            institution=institution,
        )
        return Response(CatalogueItemSerializer(items, many=True).data)
