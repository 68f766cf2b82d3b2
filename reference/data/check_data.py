#!/usr/bin/env python3
"""Validate reference/data/regions.csv and reference/data/demo_institutions.csv.

Standard library only. Usage:

    python reference/data/check_data.py [DATA_DIR]

Prints a summary and every problem found; exits 0 when both files pass, 1 otherwise.
The functions ``check_regions`` and ``check_institutions`` return lists of error
strings, so tests can call them directly.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections import Counter
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

REGIONS_HEADER = ["code", "name", "level", "parent_code", "is_pooling_area"]
INSTITUTIONS_HEADER = [
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
MUNICIPALITIES = {"110000", "120000", "310000", "500000"}
# Placeholder rows of the statistical code tables that must not be emitted.
PLACEHOLDER_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
EXPECTED_PROVINCES = 31
PREFECTURE_RANGE = (330, 380)  # ~333 prefectures + ~32 directly administered county-level units
INSTITUTION_RANGE = (80, 110)
REQUIRED_REGIONS = {
    "110000",
    "310000",
    "130100",
    "131000",
    "130600",
    "330100",
    "330200",
    "440100",
    "440300",
    "510100",
    "460100",
    "460200",
    "230100",
    "320100",
    "420100",
}
SIX_DIGITS = re.compile(r"^\d{6}$")
INSTITUTION_CODE = re.compile(r"^[HP]\d{11}$")
FLAGS = ("inpatient", "general_outpatient", "chronic_outpatient", "networked", "active")


def _read(path: Path) -> tuple[list[str], list[str], list[dict[str, str]], list[str]]:
    """Return (comment lines, header, rows, errors) for a '#'-commented CSV file."""
    errors: list[str] = []
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        errors.append(f"{path.name}: starts with a UTF-8 BOM")
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [], [], [f"{path.name}: not valid UTF-8 ({exc})"]
    lines = text.splitlines()
    comments = []
    while lines and lines[0].startswith("#"):
        comments.append(lines.pop(0))
    if not comments:
        errors.append(f"{path.name}: no '#' header comment lines")
    reader = csv.reader(io.StringIO("\n".join(lines)))
    try:
        header = next(reader)
    except StopIteration:
        return comments, [], [], errors + [f"{path.name}: no CSV header row"]
    rows = []
    for lineno, values in enumerate(reader, start=len(comments) + 2):
        if not values:
            errors.append(f"{path.name}:{lineno}: empty line")
            continue
        if len(values) != len(header):
            errors.append(f"{path.name}:{lineno}: {len(values)} fields, expected {len(header)}")
            continue
        row = dict(zip(header, values, strict=False))
        row["_line"] = str(lineno)
        rows.append(row)
    return comments, header, rows, errors


def load_regions(path: Path) -> dict[str, dict[str, str]]:
    _, _, rows, _ = _read(path)
    return {r["code"]: r for r in rows if "code" in r}


def check_regions(path: Path) -> list[str]:
    comments, header, rows, errors = _read(path)
    where = path.name
    if header != REGIONS_HEADER:
        return errors + [f"{where}: header is {header}, expected {REGIONS_HEADER}"]
    comment_text = "\n".join(comments)
    for word in ("source", "taken"):
        if word not in comment_text:
            errors.append(f"{where}: header comments do not mention '{word}'")

    codes = [r["code"] for r in rows]
    for code, n in Counter(codes).items():
        if n > 1:
            errors.append(f"{where}: duplicate code {code} ({n} rows)")
    if codes != sorted(codes):
        errors.append(f"{where}: rows are not sorted by code")
    by_code = {r["code"]: r for r in rows}

    for r in rows:
        at = f"{where}:{r['_line']} {r['code']}"
        code, parent, level = r["code"], r["parent_code"], r["level"]
        if not SIX_DIGITS.match(code):
            errors.append(f"{at}: code is not 6 digits")
            continue
        if not r["name"].strip():
            errors.append(f"{at}: empty name")
        if r["name"] in PLACEHOLDER_NAMES:
            errors.append(f"{at}: placeholder row '{r['name']}' must not be emitted")
        if r["is_pooling_area"] not in ("0", "1"):
            errors.append(f"{at}: is_pooling_area must be 0 or 1")
        if level == "province":
            if parent:
                errors.append(f"{at}: province has parent_code {parent}")
            if not code.endswith("0000"):
                errors.append(f"{at}: province code does not end in 0000")
            want = "1" if code in MUNICIPALITIES else "0"
            if r["is_pooling_area"] != want:
                errors.append(f"{at}: province is_pooling_area should be {want}")
        elif level == "prefecture":
            if not SIX_DIGITS.match(parent):
                errors.append(f"{at}: parent_code '{parent}' is not 6 digits")
                continue
            p = by_code.get(parent)
            if p is None:
                errors.append(f"{at}: parent {parent} does not exist")
            elif p["level"] != "province":
                errors.append(f"{at}: parent {parent} is not a province")
            if code[:2] != parent[:2]:
                errors.append(f"{at}: code does not start with parent's 2 digits {parent[:2]}")
            if code.endswith("0000"):
                errors.append(f"{at}: prefecture code ends in 0000")
            if parent in MUNICIPALITIES:
                errors.append(f"{at}: municipality {parent} must have no prefecture rows")
            if r["is_pooling_area"] != "1":
                errors.append(f"{at}: prefecture-level division must be a pooling area")
        else:
            errors.append(f"{at}: level '{level}' is not province/prefecture")

    n_prov = sum(r["level"] == "province" for r in rows)
    n_pref = sum(r["level"] == "prefecture" for r in rows)
    if n_prov != EXPECTED_PROVINCES:
        errors.append(f"{where}: {n_prov} provinces, expected {EXPECTED_PROVINCES}")
    if not PREFECTURE_RANGE[0] <= n_pref <= PREFECTURE_RANGE[1]:
        errors.append(
            f"{where}: {n_pref} prefecture rows, expected {PREFECTURE_RANGE[0]}-{PREFECTURE_RANGE[1]}"
        )
    for muni in MUNICIPALITIES:
        if muni not in by_code:
            errors.append(f"{where}: municipality {muni} missing")
    for prov in {r["code"] for r in rows if r["level"] == "province"} - MUNICIPALITIES:
        if not any(r["parent_code"] == prov for r in rows):
            errors.append(f"{where}: province {prov} has no prefecture rows")
    return errors


def area_inside_region(area: str, region: str, regions: dict[str, dict[str, str]]) -> bool:
    """Is the 6-digit area code (from an institution code) inside pooling area `region`?"""
    r = regions.get(region)
    if r is None:
        return False
    if r["level"] == "province":  # municipality: any district/county of it, not the province code itself
        return area[:2] == region[:2] and not area.endswith("0000")
    if region.endswith("00"):  # ordinary prefecture: the prefecture itself or one of its counties
        return area[:4] == region[:4]
    return area == region  # directly administered county-level unit (e.g. 429004)


def check_institutions(path: Path, regions: dict[str, dict[str, str]]) -> list[str]:
    comments, header, rows, errors = _read(path)
    where = path.name
    if header != INSTITUTIONS_HEADER:
        return errors + [f"{where}: header is {header}, expected {INSTITUTIONS_HEADER}"]
    if "demo" not in "\n".join(comments).lower():
        errors.append(f"{where}: header comments do not say this is demo data")

    for field in ("code", "name"):
        for value, n in Counter(r[field] for r in rows).items():
            if n > 1:
                errors.append(f"{where}: duplicate {field} {value} ({n} rows)")

    for r in rows:
        at = f"{where}:{r['_line']} {r['code']}"
        code, kind, level, region = r["code"], r["kind"], r["level"], r["region_code"]
        if not INSTITUTION_CODE.match(code):
            errors.append(f"{at}: code does not match ^[HP]\\d{{11}}$")
            continue
        if not r["name"].strip() or not r["address"].strip():
            errors.append(f"{at}: empty name or address")
        if kind not in ("hospital", "clinic", "pharmacy"):
            errors.append(f"{at}: kind '{kind}' invalid")
        want_prefix = "P" if kind == "pharmacy" else "H"
        if code[0] != want_prefix:
            errors.append(f"{at}: {kind} code should start with {want_prefix}")
        if kind == "hospital" and level not in ("1", "2", "3"):
            errors.append(f"{at}: hospital level must be 1/2/3, got '{level}'")
        if kind in ("clinic", "pharmacy") and level != "0":
            errors.append(f"{at}: {kind} level must be 0, got '{level}'")
        for flag in FLAGS:
            if r[flag] not in ("0", "1"):
                errors.append(f"{at}: {flag} must be 0 or 1, got '{r[flag]}'")
        if kind == "pharmacy" and (r["inpatient"], r["general_outpatient"], r["chronic_outpatient"]) != (
            "0",
            "1",
            "0",
        ):
            errors.append(f"{at}: pharmacy must have inpatient=0, general_outpatient=1, chronic_outpatient=0")
        reg = regions.get(region)
        if reg is None:
            errors.append(f"{at}: region_code {region} not in regions.csv")
            continue
        if reg["is_pooling_area"] != "1":
            errors.append(f"{at}: region_code {region} is not a pooling area")
        area = code[1:7]
        if not area_inside_region(area, region, regions):
            errors.append(f"{at}: area {area} in code is not inside region {region}")

    if not INSTITUTION_RANGE[0] <= len(rows) <= INSTITUTION_RANGE[1]:
        errors.append(f"{where}: {len(rows)} rows, expected {INSTITUTION_RANGE[0]}-{INSTITUTION_RANGE[1]}")
    missing = REQUIRED_REGIONS - {r["region_code"] for r in rows}
    if missing:
        errors.append(f"{where}: no institutions for regions {sorted(missing)}")
    hospitals = [r for r in rows if r["kind"] == "hospital"]
    exceptions = {
        "hospital not networked": [r for r in hospitals if r["networked"] == "0"],
        "hospital inactive": [r for r in hospitals if r["active"] == "0"],
        "hospital without chronic outpatient": [r for r in hospitals if r["chronic_outpatient"] == "0"],
        "level-1 hospital without inpatient": [
            r for r in hospitals if r["level"] == "1" and r["inpatient"] == "0"
        ],
    }
    for label, found in exceptions.items():
        if not found:
            errors.append(f"{where}: no '{label}' example for filters to find")
    return errors


def main(argv: list[str]) -> int:
    data_dir = Path(argv[1]) if len(argv) > 1 else DATA_DIR
    regions_path = data_dir / "regions.csv"
    inst_path = data_dir / "demo_institutions.csv"
    errors = check_regions(regions_path)
    regions = load_regions(regions_path)
    errors += check_institutions(inst_path, regions)

    levels = Counter(r["level"] for r in regions.values())
    pooling = sum(r["is_pooling_area"] == "1" for r in regions.values())
    print(
        f"regions.csv: {levels['province']} provinces, {levels['prefecture']} prefecture-level rows, "
        f"{pooling} pooling areas"
    )
    _, _, inst, _ = _read(inst_path)
    by_region = Counter(r["region_code"] for r in inst)
    kinds = Counter(r["kind"] for r in inst)
    print(
        f"demo_institutions.csv: {len(inst)} rows ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
    for region, n in sorted(by_region.items()):
        name = regions.get(region, {}).get("name", "?")
        print(f"  {region} {name}: {n}")
    for e in errors:
        print("ERROR:", e)
    print("OK" if not errors else f"FAILED: {len(errors)} error(s)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
