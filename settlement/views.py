"""The printable settlement receipt (结算单), for the counter that settled it and for the person."""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFound
from filing.choices import FilingGroup

from .selectors import settlement_get


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price(value: Decimal) -> str:
    """Yuan with at least two decimals (60 → "60.00", 0.335 → "0.335")."""
    text = _plain(value)
    decimals = len(text.partition(".")[2])
    return text if decimals >= 2 else format(value.quantize(Decimal("0.01")), "f")


@require_GET
@login_required
def settlement_receipt(request, settlement_id: int):
    """Only a counter operator of the settling institution and the person themself see it; others get 404."""
    try:
        settlement = settlement_get(user=request.user, settlement_id=settlement_id)
    except NotFound:
        raise Http404 from None
    lines = list(settlement.lines.all())
    for line in lines:
        # 10.0000 → "10", 18.5000 → "18.5": plain decimals, never exponent notation.
        line.quantity_display = _plain(line.quantity)
        line.unit_price_display = _price(line.unit_price)
    return render(
        request,
        "settlement/receipt.html",
        {
            "settlement": settlement,
            "lines": lines,
            "is_counter": request.user.is_counter,
            "fund_percent": settlement.fund_ratio * 100,
            "filing_group": FilingGroup(settlement.filing_group).label if settlement.filing_group else "",
            # A4 by default; `?paper=80mm` lays it out for a counter's thermal receipt printer.
            "thermal": request.GET.get("paper") == "80mm",
        },
    )
