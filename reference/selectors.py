"""Where a region lies (its province, whether it covers another) and which institutions a search finds.

Codes are GB/T 2260: a province ends in 0000, a prefecture in 00; the code alone decides, so callers need not
load regions.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .choices import RegionLevel
from .models import Institution, Region


def province_code(region_code: str) -> str:
    """The province of a 6-digit area code (first two digits + 0000)."""
    return region_code[:2] + "0000"


def same_province(code: str, other: str) -> bool:
    """Whether two area codes lie in one province."""
    return code[:2] == other[:2]


def region_covers(destination_code: str, region_code: str) -> bool:
    """Whether the pooling area `region_code` lies in a destination (a pooling area, or a whole province)."""
    if destination_code.endswith("0000"):
        return same_province(region_code, destination_code)
    return region_code == destination_code


def area_inside(area_code: str, region: Region) -> bool:
    """Whether a county-level area code lies in a region (its province, or its prefecture)."""
    if region.level == RegionLevel.PROVINCE:
        return same_province(area_code, region.code)
    return area_code[:4] == region.code[:4]


def institution_search(
    *,
    region: Region | None = None,
    kind: str = "",
    level: int | None = None,
    service: str = "",
    networked: bool = False,
    term: str = "",
) -> QuerySet[Institution]:
    """Active institutions in a region (a pooling area or a whole province) matching the filters, best first;
    `term` is part of a name or a whole code."""
    qs = Institution.objects.select_related("region").filter(active=True)
    if region is not None:
        qs = qs.in_region(region)
    if kind:
        qs = qs.filter(kind=kind)
    if level is not None:
        qs = qs.filter(level=level)
    if service:
        qs = qs.offering(service)
    if networked:
        qs = qs.filter(networked=True)
    term = term.strip()
    if term:
        qs = qs.filter(name__contains=term) | qs.filter(code=term.upper())
    return qs.order_by("-level", "code")
