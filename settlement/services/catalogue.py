"""Which rows of a catalogue CSV are accepted, and how a catalogue is written back out."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError
from reference.models import Region
from reference.services import ImportResult, RowError, csv_rows_validate

from ..choices import (
    CoverageClass,
    ItemCategory,
)
from ..errors import SettlementErrorCode
from ..models import (
    Catalogue,
    CatalogueItem,
)

CATALOGUE_COLUMNS = ["code", "name", "category", "coverage_class", "first_share_rate", "unit"]
_CLASS_ALIASES = {
    "甲": CoverageClass.A,
    "乙": CoverageClass.B,
    "丙": CoverageClass.C,
    "a": CoverageClass.A,
    "b": CoverageClass.B,
    "c": CoverageClass.C,
}
_CATEGORY_ALIASES = {
    "药品": ItemCategory.DRUG,
    "诊疗项目": ItemCategory.SERVICE,
    "医疗服务": ItemCategory.SERVICE,
    "医用耗材": ItemCategory.CONSUMABLE,
    "耗材": ItemCategory.CONSUMABLE,
}


def _catalogue_row(line: int, row: dict[str, str]) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []

    def err(field: str, code: SettlementErrorCode, message: str) -> None:
        errors.append(RowError(line, field, code.value, message))

    code = (row.get("code") or "").strip()
    name = (row.get("name") or "").strip()
    category_raw = (row.get("category") or "").strip()
    category = _CATEGORY_ALIASES.get(category_raw, category_raw.lower())
    coverage_raw = (row.get("coverage_class") or "").strip()
    coverage = _CLASS_ALIASES.get(coverage_raw.lower(), coverage_raw)
    share_raw = (row.get("first_share_rate") or "").strip().rstrip("%")
    values = {
        "code": code,
        "name": name,
        "category": category,
        "coverage_class": coverage,
        "unit": (row.get("unit") or "").strip()[:20],
        "first_share_rate": None,
    }
    if not code or len(code) > 50:
        err(
            "code",
            SettlementErrorCode.INVALID_CODE,
            _("The national code is required (at most 50 characters)."),
        )
    if not name or len(name) > 200:
        err("name", SettlementErrorCode.REQUIRED, _("The name is required (at most 200 characters)."))
    if category not in ItemCategory.values:
        err(
            "category",
            SettlementErrorCode.INVALID_CATEGORY,
            _("The category must be drug, service or consumable."),
        )
    if coverage not in CoverageClass.values:
        err("coverage_class", SettlementErrorCode.INVALID_CLASS, _("The class must be A/B/C (甲/乙/丙)."))
    if share_raw:
        try:
            share = Decimal(share_raw)
            if (row.get("first_share_rate") or "").strip().endswith("%") or share > 1:
                share = share / 100
            if not (0 <= share <= 1):
                raise InvalidOperation
            values["first_share_rate"] = share.quantize(Decimal("0.0001"))
        except InvalidOperation:
            err(
                "first_share_rate",
                SettlementErrorCode.INVALID_RATE,
                _("The first share must be a fraction (0.10) or a percent."),
            )
        if coverage != CoverageClass.B and values["first_share_rate"]:
            err(
                "first_share_rate",
                SettlementErrorCode.FIRST_SHARE_NOT_CLASS_B,
                _("Only class B items have a first share."),
            )
    return values, errors


def catalogue_import(
    *, province: Region | str, data: str | bytes, dry_run: bool = False, actor=None
) -> ImportResult:
    """Create or update a province's catalogue items from CSV; all rows or none (ImportFailed lists bad rows)."""
    region = province if isinstance(province, Region) else Region.objects.filter(code=str(province)).first()
    if region is None or region.level != "province":
        raise ServiceError(
            SettlementErrorCode.INVALID_PROVINCE,
            _("Choose a province-level region."),
            fields={"province": [_("Not a province.")]},
        )
    parsed, result = csv_rows_validate(
        data=data, columns=["code", "name", "category", "coverage_class"], validate_row=_catalogue_row
    )

    with transaction.atomic():
        catalogue, _created = Catalogue.objects.get_or_create(province=region)
        existing = {
            i.code: i
            for i in CatalogueItem.objects.select_for_update().filter(
                catalogue=catalogue, code__in=[v["code"] for v in parsed]
            )
        }
        to_create, to_update = [], []
        for values in parsed:
            item = existing.get(values["code"])
            if item is None:
                to_create.append(CatalogueItem(catalogue=catalogue, active=True, **values))
                continue
            changed = any(getattr(item, k) != v for k, v in values.items()) or not item.active
            if changed:
                for key, value in values.items():
                    setattr(item, key, value)
                item.active = True
                to_update.append(item)
        result.created, result.updated = len(to_create), len(to_update)
        if dry_run:
            transaction.set_rollback(True)
            return result
        CatalogueItem.objects.bulk_create(to_create)
        CatalogueItem.objects.bulk_update(
            to_update,
            ["name", "category", "coverage_class", "first_share_rate", "unit", "active", "updated_at"],
        )
        if to_create or to_update:
            audit_record(
                actor=actor,
                action="catalogue.import",
                target=catalogue,
                data={"created": result.created, "updated": result.updated},
            )
    return result


def catalogue_export(*, queryset) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["province", *CATALOGUE_COLUMNS, "active"])
    for item in queryset.select_related("catalogue"):
        writer.writerow(
            [
                item.catalogue.province_id,
                item.code,
                item.name,
                item.category,
                item.coverage_class,
                "" if item.first_share_rate is None else item.first_share_rate,
                item.unit,
                int(item.active),
            ]
        )
    return out.getvalue()
