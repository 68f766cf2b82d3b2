"""Output shapes of regions and institutions, shared by the reference API and other apps' answers."""

from rest_framework import serializers

from .models import Institution, Region


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent_id", allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = Region
        fields = ["code", "name", "level", "parent", "is_pooling_area"]


class InstitutionSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region_id")
    region_name = serializers.CharField(source="region.name")
    services = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Institution
        fields = [
            "code",
            "name",
            "kind",
            "level",
            "region",
            "region_name",
            "address",
            "services",
            "networked",
            "active",
        ]
