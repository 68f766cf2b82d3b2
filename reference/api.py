from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from core.db import for_reading
from core.errors import ServiceError

from .choices import InstitutionKind, RegionLevel, Service
from .errors import ReferenceErrorCode
from .models import Region
from .selectors import institution_search
from .serializers import InstitutionSerializer, RegionSerializer


class RegionListApi(ListAPIView):
    """Provinces and prefecture-level regions; filter by `level`, `parent`, `pooling`, search by `q`."""

    permission_classes = [AllowAny]
    serializer_class = RegionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("level", enum=RegionLevel.values),
            OpenApiParameter("parent", str),
            OpenApiParameter("pooling", bool),
            OpenApiParameter("q", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = Region.objects.all()
        params = self.request.query_params
        if params.get("level"):
            qs = qs.filter(level=params["level"])
        if params.get("parent"):
            qs = qs.filter(parent_id=params["parent"])
        if params.get("pooling") in ("1", "true"):
            qs = qs.filter(is_pooling_area=True)
        if params.get("q"):
            qs = qs.filter(name__contains=params["q"].strip())
        return for_reading(qs)


class InstitutionListApi(ListAPIView):
    """Designated institutions; filter by `region` (a pooling area or a whole province), `kind`, `level`,
    `service`, `networked`, search by `q` (name or code)."""

    permission_classes = [AllowAny]
    serializer_class = InstitutionSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("region", str),
            OpenApiParameter("kind", enum=InstitutionKind.values),
            OpenApiParameter("level", int),
            OpenApiParameter("service", enum=Service.values),
            OpenApiParameter("networked", bool),
            OpenApiParameter("q", str),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        region = None
        if params.get("region"):
            region = Region.objects.filter(code=params["region"]).first()
            if region is None:
                raise ServiceError(
                    ReferenceErrorCode.UNKNOWN_REGION,
                    _("Unknown region code."),
                    fields={"region": [_("Unknown.")]},
                )
        if params.get("kind") and params["kind"] not in InstitutionKind.values:
            raise ServiceError(
                ReferenceErrorCode.INVALID, _("Unknown kind."), fields={"kind": [_("Unknown kind.")]}
            )
        if params.get("level") and params["level"] not in ("0", "1", "2", "3"):
            raise ServiceError(
                ReferenceErrorCode.INVALID, _("The level must be 0 to 3."), fields={"level": [_("Invalid.")]}
            )
        if params.get("service") and params["service"] not in Service.values:
            raise ServiceError(
                ReferenceErrorCode.INVALID, _("Unknown service."), fields={"service": [_("Unknown service.")]}
            )
        return for_reading(
            institution_search(
                region=region,
                kind=params.get("kind", ""),
                level=int(params["level"]) if params.get("level") else None,
                service=params.get("service", ""),
                networked=params.get("networked") in ("1", "true"),
                term=params.get("q", ""),
            )
        )
