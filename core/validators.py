"""Validation of Chinese resident ID numbers (GB 11643-1999) and mainland mobile numbers."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# First digit of valid province codes (GB/T 2260): 1 North, 2 North-east, 3 East, 4 South-central, 5 South-west,
# 6 North-west; 7/8 are Taiwan/HK/Macao, whose residents hold other documents.
_PROVINCE_PREFIXES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
}


def id_check_character(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().upper()


def id_birth_date(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def validate_id_number(value: str, *, today: dt.date | None = None) -> str:
    """Return the normalised ID number or raise ValidationError with code `invalid_id_number`."""
    number = normalize_id_number(value)
    error = ValidationError(_("Enter a valid 18-character resident ID number."), code="invalid_id_number")
    if not _ID_RE.match(number) or number[:2] not in _PROVINCE_PREFIXES:
        raise error
    try:
        born = id_birth_date(number)
    except ValueError:
        raise error from None
    if born.year < 1900 or born > (today or dt.date.today()):
        raise error
    if id_check_character(number[:17]) != number[17]:
        raise error
    return number


def normalize_phone(value: str) -> str:
    number = re.sub(r"[\s-]", "", value or "")
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    return number


def validate_phone(value: str) -> str:
    """Return the normalised mainland mobile number or raise ValidationError with code `invalid_phone`."""
    number = normalize_phone(value)
    if not _PHONE_RE.match(number):
        raise ValidationError(_("Enter a valid mainland mobile number."), code="invalid_phone")
    return number
