"""Output shapes shared by several filing endpoints (each endpoint keeps its own input serializer)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from reference.serializers import InstitutionSerializer

from .choices import DocumentKind, FilingGroup, FilingStatus, ProxyRelation


class PickedInstitutionSerializer(serializers.Serializer):
    code = serializers.CharField(source="institution.code")
    name = serializers.CharField(source="institution.name")
    kind = serializers.CharField(source="institution.kind")
    level = serializers.IntegerField(source="institution.level")
    region = serializers.CharField(source="institution.region_id")
    region_name = serializers.CharField(source="institution.region.name")


class FilingDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return reverse(
            "api:filing-document",
            kwargs={"filing_id": obj.filing_id, "document_id": obj.pk},
            request=self.context.get("request"),
        )


class ProxyOutputSerializer(serializers.Serializer):
    """The proxy applicant, masked."""

    name = serializers.CharField()
    id_number = serializers.CharField()
    phone = serializers.CharField()
    relation = serializers.ChoiceField(choices=ProxyRelation.choices)


class FilingSerializer(serializers.Serializer):
    """A filing as its owner sees it; personal data of a proxy applicant is masked."""

    id = serializers.IntegerField()
    serial = serializers.CharField()
    status = serializers.ChoiceField(choices=FilingStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    group = serializers.ChoiceField(choices=FilingGroup.choices)
    group_label = serializers.CharField(source="get_group_display")
    long_term = serializers.BooleanField()
    scheme = serializers.CharField()
    channel = serializers.CharField()
    insured_region = serializers.CharField(source="insured_region_id")
    insured_region_name = serializers.CharField(source="insured_region.full_name")
    destination = serializers.CharField(source="destination_id")
    destination_name = serializers.CharField(source="destination.full_name")
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    commitment = serializers.BooleanField()
    all_institutions = serializers.BooleanField(
        help_text="True: every networked institution in the destination settles; False: only the picked ones."
    )
    institutions = serializers.SerializerMethodField()
    documents = FilingDocumentSerializer(many=True)
    proxy = serializers.SerializerMethodField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    review_deadline = serializers.DateField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    fix_hint = serializers.CharField()
    supersedes = serializers.IntegerField(source="supersedes_id", allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(PickedInstitutionSerializer(many=True))
    def get_institutions(self, obj):
        return PickedInstitutionSerializer(obj.picks.all(), many=True).data

    @extend_schema_field(ProxyOutputSerializer(allow_null=True))
    def get_proxy(self, obj):
        return obj.proxy_masked


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class MaterialSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()


class OpenFilingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    destination = serializers.CharField()


class RulesPreviewSerializer(serializers.Serializer):
    """What filing for a group and destination would take, before filing."""

    group = serializers.CharField()
    destination = serializers.CharField()
    destination_name = serializers.CharField()
    eligible = serializers.BooleanField()
    reasons = ReasonSerializer(many=True)
    long_term = serializers.BooleanField()
    materials = MaterialSerializer(many=True)
    commitment_allowed = serializers.BooleanField()
    pick_required = serializers.BooleanField()
    max_institutions = serializers.IntegerField()
    required_service = serializers.CharField()
    validity_months = serializers.IntegerField(allow_null=True)
    max_validity_months = serializers.IntegerField(allow_null=True)
    min_months_before_change = serializers.IntegerField()
    ratio_reduction_points = serializers.IntegerField()
    review_deadline_days = serializers.IntegerField()
    instant_approval = serializers.BooleanField()
    retroactive_days = serializers.IntegerField()
    open_filing = OpenFilingSerializer(allow_null=True)
    networked_institutions_count = serializers.IntegerField()
    networked_institutions = InstitutionSerializer(many=True)
