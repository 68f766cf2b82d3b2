"""The answer envelope of the national interface, its 17-digit Beijing times and its JSON (money as numbers
with exactly two decimals)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_now() -> dt.datetime:
    return timezone.now().astimezone(BEIJING)


def stamp17(moment: dt.datetime) -> str:
    """yyyyMMddHHmmssSSS in Beijing time."""
    local = moment.astimezone(BEIJING)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def local_dt(moment: dt.datetime | None) -> str | None:
    """yyyy-MM-dd HH:mm:ss in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def inf_refmsgid(area: str, moment: dt.datetime) -> str:
    """Receiver area (6) + time (14) + serial (10): 30 characters."""
    area = area if len(area) == 6 and area.isdigit() else "000000"
    return f"{area}{moment.astimezone(BEIJING):%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def answer(*, received: dt.datetime, area: str, output=None, err_msg: str | None = None) -> dict:
    """The whole envelope: infcode 0 with `output`, or -1 with `err_msg` and a null output."""
    return {
        "infcode": 0 if err_msg is None else -1,
        "inf_refmsgid": inf_refmsgid(area, received),
        "refmsg_time": stamp17(received),
        "respond_time": stamp17(beijing_now()),
        "err_msg": err_msg,
        "output": output if err_msg is None else None,
    }


def dumps(body: dict) -> str:
    """JSON text with every Decimal written as a number, digits as they are (216.00 stays 216.00)."""
    # Decimals become placeholders no text can hold (a fresh random tag), then the placeholders the digits.
    marks: list[str] = []
    tag = secrets.token_hex(12)

    def mark(value):
        if isinstance(value, Decimal):
            marks.append(format(value, "f"))
            return f"{tag}:{len(marks) - 1}:{tag}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=False, separators=(",", ":"))
    for n, digits in enumerate(marks):
        text = text.replace(f'"{tag}:{n}:{tag}"', digits, 1)
    return text
