"""Reading the `input` of a transaction: each field's type and presence, refused as ``[missing_field]`` or
``[invalid_field]`` naming it. Optional fields may be empty strings; money and quantities may be JSON numbers
or numeric strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .envelope import BEIJING
from .errors import HisErrorCode, HisRefusal


def missing(name: str) -> HisRefusal:
    return HisRefusal(HisErrorCode.MISSING_FIELD, _("Required field missing: %(field)s") % {"field": name})


def invalid(name: str) -> HisRefusal:
    return HisRefusal(
        HisErrorCode.INVALID_FIELD, _("Field has a wrong type or value: %(field)s") % {"field": name}
    )


def node(data, name: str) -> dict:
    value = data.get(name)
    if value is None:
        raise missing(name)
    if not isinstance(value, dict):
        raise invalid(name)
    return value


def nodes(data, name: str) -> list[dict]:
    value = data.get(name)
    if value is None:
        raise missing(name)
    if isinstance(value, dict):  # some HIS send a single row as an object
        value = [value]
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise invalid(name)
    return value


def text(data: dict, name: str, *, required: bool = True, max_length: int = 100, prefix: str = "") -> str:
    value = data.get(name)
    label = prefix + name
    if value is None or value == "":
        if required:
            raise missing(label)
        return ""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        value = str(value)  # codes sent as numbers
    if not isinstance(value, str) or len(value.strip()) > max_length:
        raise invalid(label)
    return value.strip()


def code(data: dict, name: str, choices, *, required: bool = True, prefix: str = "") -> str:
    value = text(data, name, required=required, max_length=10, prefix=prefix)
    if value and value not in choices:
        raise invalid(prefix + name)
    return value


def number(
    data: dict,
    name: str,
    *,
    required: bool = True,
    places: int | None = None,
    prefix: str = "",
    limit: Decimal = Decimal("1e12"),
):
    value = data.get(name)
    label = prefix + name
    if value is None or value == "":
        if required:
            raise missing(label)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise invalid(label)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise invalid(label) from None
    if not amount.is_finite() or abs(amount) >= limit:
        raise invalid(label)
    if places is not None:
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise invalid(label)
        amount = amount.quantize(Decimal(1).scaleb(-places))
    return amount


def money(data: dict, name: str, *, required: bool = True, prefix: str = "") -> Decimal | None:
    return number(data, name, required=required, places=2, prefix=prefix)


def moment(data: dict, name: str, *, required: bool = True, prefix: str = "") -> dt.datetime | None:
    """A `yyyy-MM-dd HH:mm:ss` time in Beijing time (a date alone is taken as its midnight)."""
    value = text(data, name, required=required, max_length=19, prefix=prefix)
    if not value:
        return None
    for shape in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, shape).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise invalid(prefix + name)


def day(data: dict, name: str, *, required: bool = True, prefix: str = "") -> dt.date | None:
    value = text(data, name, required=required, max_length=10, prefix=prefix)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid(prefix + name) from None
