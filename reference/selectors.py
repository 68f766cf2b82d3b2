"""Reads of the reference data: where a person may file for, and which designated institutions a search finds."""

from __future__ import annotations

from collections.abc import Iterable

from .choices import RegionLevel
from .models import Institution, Region


def institutions_search(
    *,
    region: Region | None = None,
    q: str = "",
    kind: str = "",
    level: int | None = None,
    services: Iterable[str] = (),
    networked: bool = False,
):
    """Active institutions in a pooling area or a whole province, by name (part of it) or exact code, kind,
    level, every one of `services`, and networked only if asked; highest level first."""
    qs = Institution.objects.select_related("region").filter(active=True)
    if region is not None:
        qs = qs.in_region(region)
    if kind:
        qs = qs.filter(kind=kind)
    if level is not None:
        qs = qs.filter(level=level)
    for service in services:
        if service:
            qs = qs.offering(service)
    if networked:
        qs = qs.filter(networked=True)
    term = (q or "").strip()
    if term:
        qs = qs.filter(name__contains=term) | qs.filter(code=term.upper())
    return qs.order_by("-level", "code")


def destination_choices(*, insured_region: str) -> list[dict]:
    """Provinces outside the insured province, each with its pooling areas (`{"province", "areas"}`), in code
    order: the places a person insured in `insured_region` may file for."""
    own = insured_region[:2]
    outside = Region.objects.exclude(code__startswith=own)
    regions = outside.filter(level=RegionLevel.PROVINCE) | outside.filter(is_pooling_area=True)
    provinces: dict[str, dict] = {}
    for region in regions.order_by("code"):
        entry = provinces.setdefault(region.code[:2], {"province": None, "areas": []})
        if region.level == RegionLevel.PROVINCE:
            entry["province"] = region
        else:
            entry["areas"].append(region)
    return [p for p in provinces.values() if p["province"] is not None]
