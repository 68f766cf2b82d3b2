"""Loading and exchanging reference data: regions (GB/T 2260) and designated institutions (CSV)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ServiceError

from .choices import InstitutionKind, InstitutionLevel, RegionLevel
from .errors import ReferenceErrorCode
from .models import Institution, Region
from .selectors import area_inside
from .signals import institutions_changed

DATA_DIR = Path(__file__).resolve().parent / "data"
REGIONS_CSV = DATA_DIR / "regions.csv"
DEMO_INSTITUTIONS_CSV = DATA_DIR / "demo_institutions.csv"

INSTITUTION_COLUMNS = [
    "code",
    "name",
    "kind",
    "level",
    "region_code",
    "address",
    "inpatient",
    "general_outpatient",
    "chronic_outpatient",
    "networked",
    "active",
]
_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"0", "false", "no", "n", "否", ""}
_CODE_RE = re.compile(r"^[HP]\d{11}$")


def read_data_csv(text: str) -> list[dict[str, str]]:
    """Rows of a CSV whose leading `#` lines are comments (source and date)."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def regions_load(*, path: Path = REGIONS_CSV, region_model=Region) -> int:
    """Create or update every region in the shipped file; idempotent. Returns the number of rows."""
    rows = read_data_csv(path.read_text(encoding="utf-8"))
    provinces = [r for r in rows if r["level"] == RegionLevel.PROVINCE]
    others = [r for r in rows if r["level"] != RegionLevel.PROVINCE]
    for row in provinces + others:
        region_model.objects.update_or_create(
            code=row["code"],
            defaults={
                "name": row["name"],
                "level": row["level"],
                "parent_id": row["parent_code"] or None,
                "is_pooling_area": row["is_pooling_area"] == "1",
            },
        )
    return len(rows)


def region_pooling_area_for(area_code: str) -> Region | None:
    """The pooling area that a 6-digit area code (county, prefecture or province) belongs to."""
    candidates = [area_code, area_code[:4] + "00", area_code[:2] + "0000"]
    regions = {r.code: r for r in Region.objects.filter(code__in=candidates, is_pooling_area=True)}
    return next((regions[c] for c in candidates if c in regions), None)


@dataclass
class RowError:
    line: int
    field: str
    code: str
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFailed(ServiceError):
    """A CSV import found bad rows; nothing was saved."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(
            ReferenceErrorCode.IMPORT_ROWS_INVALID,
            _("%(count)d row(s) are invalid; nothing was imported.") % {"count": len(result.errors)},
            fields={"rows": [e.__dict__ for e in result.errors]},
        )
        self.result = result


def csv_rows_validate(
    *, data: str | bytes, columns: list[str], validate_row
) -> tuple[list[dict], ImportResult]:
    """Decode a CSV upload and validate every row with `validate_row(line, row) -> (values, errors)`.

    Returns the parsed rows, or raises ImportFailed listing every bad row (codes repeated within the file
    included) so that the caller saves all rows or none. Line numbers count the header as line 1, as
    spreadsheets do.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ServiceError(
                ReferenceErrorCode.INVALID_ENCODING, _("The file must be UTF-8 encoded CSV.")
            ) from None
    data = data.lstrip("\ufeff")
    rows = read_data_csv(data)
    if not rows:
        raise ServiceError(ReferenceErrorCode.EMPTY_FILE, _("The file has no rows."))
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ServiceError(
            ReferenceErrorCode.MISSING_COLUMNS,
            _("Missing columns: %(columns)s") % {"columns": ", ".join(missing)},
            fields={"columns": missing},
        )
    result = ImportResult()
    parsed: list[dict] = []
    seen: dict[str, int] = {}
    first_line = 2 + sum(1 for line in data.splitlines() if line.startswith("#"))
    for offset, row in enumerate(rows):
        line = first_line + offset
        values, errors = validate_row(line, row)
        if values["code"] in seen:
            errors.append(
                RowError(
                    line,
                    "code",
                    ReferenceErrorCode.DUPLICATE_CODE.value,
                    _("The code repeats line %(line)d.") % {"line": seen[values["code"]]},
                )
            )
        seen.setdefault(values["code"], line)
        result.errors.extend(errors)
        parsed.append(values)
    if result.errors:
        raise ImportFailed(result)
    return parsed, result


def _parse_bool(value: str) -> bool | None:
    value = (value or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def _validate_row(line: int, row: dict[str, str], regions: dict[str, Region]) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []

    def err(field_name: str, code: ReferenceErrorCode, message: str) -> None:
        errors.append(RowError(line, field_name, code.value, message))

    code = (row.get("code") or "").strip().upper()
    name = (row.get("name") or "").strip()
    kind = (row.get("kind") or "").strip().lower()
    region_code = (row.get("region_code") or "").strip()
    values: dict = {"code": code, "name": name, "kind": kind, "address": (row.get("address") or "").strip()}

    if not _CODE_RE.match(code):
        err("code", ReferenceErrorCode.INVALID_CODE, _("The code must be H or P followed by 11 digits."))
    if not name:
        err("name", ReferenceErrorCode.REQUIRED, _("The name is required."))
    elif len(name) > 120:
        err("name", ReferenceErrorCode.TOO_LONG, _("The name is longer than 120 characters."))
    if kind not in InstitutionKind.values:
        err("kind", ReferenceErrorCode.INVALID_KIND, _("The kind must be hospital, clinic or pharmacy."))
    elif _CODE_RE.match(code) and (code[0] == "P") != (kind == InstitutionKind.PHARMACY):
        err(
            "code",
            ReferenceErrorCode.CODE_KIND_MISMATCH,
            _("Pharmacy codes start with P, medical institution codes with H."),
        )
    try:
        level = int((row.get("level") or "0").strip())
        if level not in InstitutionLevel.values:
            raise ValueError
        if kind == InstitutionKind.PHARMACY and level != 0:
            err("level", ReferenceErrorCode.INVALID_LEVEL, _("Pharmacies have no grade level."))
        values["level"] = level
    except ValueError:
        err("level", ReferenceErrorCode.INVALID_LEVEL, _("The level must be 0, 1, 2 or 3."))
    region = regions.get(region_code)
    if region is None or not region.is_pooling_area:
        err(
            "region_code",
            ReferenceErrorCode.UNKNOWN_REGION,
            _("The region code is not a known pooling area."),
        )
    elif _CODE_RE.match(code) and not area_inside(code[1:7], region):
        err(
            "code",
            ReferenceErrorCode.CODE_REGION_MISMATCH,
            _("The area digits of the code are not inside the region."),
        )
    values["region"] = region
    for name_ in ("inpatient", "general_outpatient", "chronic_outpatient", "networked", "active"):
        parsed = _parse_bool(row.get(name_, ""))
        if parsed is None:
            err(name_, ReferenceErrorCode.INVALID_BOOLEAN, _("Use 1 or 0."))
        values[name_] = bool(parsed)
    return values, errors


def institutions_import(*, data: str | bytes, dry_run: bool = False) -> ImportResult:
    """Create or update institutions from CSV; all rows or none. Raises ImportFailed listing every bad row."""
    regions = {r.code: r for r in Region.objects.all()}
    parsed, result = csv_rows_validate(
        data=data,
        columns=INSTITUTION_COLUMNS,
        validate_row=lambda line, row: _validate_row(line, row, regions),
    )
    seen = [values["code"] for values in parsed]

    with transaction.atomic():
        existing = {i.code: i for i in Institution.objects.select_for_update().filter(code__in=seen)}
        to_create, to_update = [], []
        for values in parsed:
            obj = existing.get(values["code"])
            if obj is None:
                to_create.append(Institution(**values))
            else:
                for key, value in values.items():
                    setattr(obj, key, value)
                to_update.append(obj)
        if not dry_run:
            Institution.objects.bulk_create(to_create)
            Institution.objects.bulk_update(
                to_update, [c for c in INSTITUTION_COLUMNS if c not in ("code", "region_code")] + ["region"]
            )
        result.created, result.updated = len(to_create), len(to_update)
    if not dry_run:
        # bulk_update sends no post_save: an institution switched off here must stop its terminals at once.
        institutions_changed.send(sender=Institution)
    return result


def institutions_export(*, queryset: Iterable[Institution] | None = None) -> str:
    """CSV in the import format, so an export can be edited and imported back."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(INSTITUTION_COLUMNS)
    rows = queryset if queryset is not None else Institution.objects.order_by("code")
    for inst in rows:
        writer.writerow(
            [
                inst.code,
                inst.name,
                inst.kind,
                inst.level,
                inst.region_id,
                inst.address,
                *(
                    int(getattr(inst, f))
                    for f in ("inpatient", "general_outpatient", "chronic_outpatient", "networked", "active")
                ),
            ]
        )
    return out.getvalue()
