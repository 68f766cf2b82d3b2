"""Settlement writes, one module per concern; callers import them from here (`from settlement.services import ...`).

- `bill`: whether a bill may be settled, and for whom;
- `accumulators`: the year's totals and the personal account a bill counts against;
- `pricing`: how a checked bill splits between the funds and the person (the preview);
- `settle`: settling a bill and reversing a settlement;
- `policy`: an area's settlement policy as an agency entered it;
- `catalogue`: catalogue import and export;
- `clearing`: monthly clearing between provinces and their prepayments;
- `supervision`: flags on settlements worth a reviewer's look.
"""

from .bill import ItemInput
from .catalogue import CATALOGUE_COLUMNS, catalogue_export, catalogue_import
from .clearing import (
    CLEARING_CSV_COLUMNS,
    clearing_build,
    clearing_confirm,
    clearing_export,
    clearing_month_totals,
    month_start,
    prepayment_save,
    previous_month,
)
from .policy import policy_save
from .pricing import SettlementPreview, settlement_preview
from .settle import settlement_create, settlement_reverse
from .supervision import SUPERVISION_DEFAULTS, flag_review, supervision_check, supervision_setting

__all__ = [
    "CATALOGUE_COLUMNS",
    "CLEARING_CSV_COLUMNS",
    "SUPERVISION_DEFAULTS",
    "ItemInput",
    "SettlementPreview",
    "catalogue_export",
    "catalogue_import",
    "clearing_build",
    "clearing_confirm",
    "clearing_export",
    "clearing_month_totals",
    "flag_review",
    "month_start",
    "policy_save",
    "prepayment_save",
    "previous_month",
    "settlement_create",
    "settlement_preview",
    "settlement_reverse",
    "supervision_check",
    "supervision_setting",
]
