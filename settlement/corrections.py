"""Corrections after the settlement day (更正 / 部分退费): a refund of part of a bill, re-priced by the calculator,
given back to the funds, the accumulators and the personal account, and carried by the next clearing statement
as an adjustment line so that a confirmed statement never changes.

How a correction is priced (the one honest approach we chose, see docs/benefits.md "Corrections"):

- The bill as it stands (the settled lines minus what earlier corrections returned) and the reduced bill (minus
  what this correction returns) are both settled by ``calculator.settle`` with the terms snapshot recorded on
  the settlement (``details["terms"]``) and the year-to-date totals as they were before it (``details["before"]``).
  The correction is the difference of the two splits, fund by fund. Corrections of one settlement telescope:
  their sum is the original split minus the split of what is left.
- Before anything, the original bill is re-settled the same way and must give the recorded split to the fen;
  if it does not (the treatment place's catalogue has changed an item since), the correction is refused
  (``correction_not_reproducible``): a refund is then handled by reversing and settling again on the day.
- Later settlements of the person were computed on top of this one; they stay as settled (they are closed
  bills). The accumulators lose exactly what the correction takes off this settlement.
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import identities_on
from core.audit import audit_record
from core.dates import today
from core.errors import NotFound
from core.errors import refusal as _refuse
from notifications.services import notification_create
from reference.selectors import region_covers

from . import calculator
from .choices import SettlementStatus
from .errors import SettlementErrorCode
from .models import Accumulator, PersonalAccount, Settlement, SettlementCorrection
from .selectors import catalogue_entries
from .services.accumulators import _accumulator_locked, _apply_deltas, _deltas

ZERO = Decimal("0.00")
# What a correction gives back, named as on a settlement (the split's name where it differs).
AMOUNTS = (
    "total",
    "basic_fund",
    "large_amount_fund",
    "critical_fund",
    "assistance_fund",
    "person_pays",
    "account_pay",
)
_SPLIT_NAMES = {"large_amount_fund": "large_amount", "assistance_fund": "assistance"}


def terms_from_snapshot(snapshot: dict, visit_type: str, level: int) -> calculator.PolicyTerms:
    """The policy terms as recorded on a settlement (``details["terms"]``), as the calculator takes them."""

    def dec(value):
        return None if value is None else Decimal(value)

    preferential = snapshot.get("preferential")
    return calculator.PolicyTerms(
        rates={
            (visit_type, level): calculator.Rate(
                deductible=Decimal(snapshot["deductible"]),
                fund_ratio=Decimal(snapshot["fund_ratio"]),
                retiree_fund_ratio=dec(snapshot.get("retiree_fund_ratio")),
                retiree_deductible=dec(snapshot.get("retiree_deductible")),
            )
        },
        annual_cap=Decimal(snapshot["annual_cap"]),
        deductible_per_admission=snapshot.get("deductible_per_admission", True),
        group_cuts={k: Decimal(v) for k, v in snapshot.get("group_cuts", {}).items()},
        group_terms=snapshot.get("group_terms", "cut"),
        critical_threshold=Decimal(snapshot.get("critical_threshold", "0")),
        critical_tiers=tuple(
            calculator.Tier(lower=Decimal(lower), ratio=Decimal(ratio))
            for lower, ratio in snapshot.get("critical_tiers", [])
        ),
        critical_cap=Decimal(snapshot.get("critical_cap", "0")),
        assistance={
            k: calculator.AssistanceTerms(
                ratio=Decimal(v[0]),
                annual_cap=Decimal(v[1]),
                deductible=Decimal(v[2]),
                outpatient_ratio=dec(v[3]),
                outpatient_deductible=Decimal(v[4]),
                outpatient_cap=dec(v[5]),
            )
            for k, v in snapshot.get("assistance", {}).items()
        },
        large_amount_ratio=Decimal(snapshot.get("large_amount_ratio", "0")),
        large_amount_cap=Decimal(snapshot.get("large_amount_cap", "0")),
        repeat_admission_factor=Decimal(snapshot.get("repeat_admission_factor", "1")),
        general_outpatient_cap=dec(snapshot.get("general_outpatient_cap")),
        general_outpatient_counts_to_critical=snapshot.get("general_outpatient_counts_to_critical", True),
        disease_limits={k: Decimal(v) for k, v in snapshot.get("disease_limits", {}).items()},
        preferential=None
        if preferential is None
        else calculator.PreferentialTerms(
            identities=frozenset(preferential["identities"]),
            threshold_factor=Decimal(preferential["threshold_factor"]),
            ratio_bonus=Decimal(preferential["ratio_bonus"]),
            uncapped=preferential["uncapped"],
        ),
    )


def _ytd_before(settlement: Settlement) -> calculator.YearToDate:
    before = settlement.details["before"]
    fields = calculator.YearToDate.__dataclass_fields__
    return calculator.YearToDate(
        **{k: (int(v) if k == "admissions" else Decimal(v)) for k, v in before.items() if k in fields}
    )


def _amounts(split: calculator.Split | None) -> dict[str, Decimal]:
    if split is None:  # nothing left of the bill: nothing is paid
        return dict.fromkeys(AMOUNTS, ZERO)
    return {name: getattr(split, _SPLIT_NAMES.get(name, name)) for name in AMOUNTS}


def _settled(settlement: Settlement, quantities: dict[int, Decimal]) -> calculator.Split | None:
    """The split of the settlement's bill with the given quantity per line, as it was settled."""
    lines = [line for line in settlement.lines.all() if quantities[line.line_no] > 0]
    if not lines:
        return None
    items = [
        calculator.BillItem(
            code=line.code,
            quantity=quantities[line.line_no],
            unit_price=line.unit_price,
            name=line.name,
            restricted_use_met=line.self_pay_reason != calculator.RESTRICTED_CONDITION,
        )
        for line in lines
    ]
    balance_before = (
        None
        if settlement.account_balance_after is None
        else settlement.account_balance_after + settlement.account_pay
    )
    return calculator.settle(
        policy=terms_from_snapshot(
            settlement.details["terms"], settlement.visit_type, settlement.institution_level
        ),
        catalogue=catalogue_entries(province=settlement.treatment_province, codes=[i.code for i in items]),
        items=items,
        person=calculator.PersonFacts(
            retired=settlement.retired,
            filing_group=settlement.filing_group,
            assistance_category=settlement.assistance_category,
            identities=identities_on(settlement.person, settlement.visit_date),
            account_balance=balance_before,
        ),
        ytd=_ytd_before(settlement),
        visit=calculator.Visit(
            visit_type=settlement.visit_type,
            institution_level=settlement.institution_level,
            disease=settlement.disease,
        ),
    )


def may_correct(user, settlement: Settlement) -> bool:
    """A counter of the institution that settled, or a reviewer of the person's insured area."""
    if user.is_counter:
        return bool(user.institution_id) and user.institution_id == settlement.institution_id
    if user.is_reviewer and user.region_id:
        return region_covers(user.region_id, settlement.insured_region_id)
    return bool(user.is_superuser)


def _returned_checked(raw, remaining: dict[int, Decimal]) -> dict[int, Decimal]:
    """``[{"line_no", "quantity"}]`` as a quantity returned per line, each within what is left of the line."""
    if not isinstance(raw, list) or not raw:
        raise _refuse(
            SettlementErrorCode.CORRECTION_INVALID_LINES,
            _("Give the lines returned and their quantities."),
            field="lines",
        )
    returned: dict[int, Decimal] = {}
    for index, row in enumerate(raw):
        try:
            line_no = int(row["line_no"])
            quantity = Decimal(str(row["quantity"]))
        except (KeyError, TypeError, ValueError, InvalidOperation):
            line_no, quantity = 0, Decimal(0)
        if (
            line_no not in remaining
            or line_no in returned
            or not quantity.is_finite()
            or quantity <= 0
            or quantity != quantity.quantize(Decimal("0.0001"))
        ):
            raise _refuse(
                SettlementErrorCode.CORRECTION_INVALID_LINES,
                _("Each line returned names a line of the settlement once, with a positive quantity."),
                field=f"lines.{index}",
            )
        if quantity > remaining[line_no]:
            raise _refuse(
                SettlementErrorCode.CORRECTION_TOO_MUCH,
                _("More is returned of a line than is left of it."),
                field=f"lines.{index}.quantity",
                status=409,
            )
        returned[line_no] = quantity
    return returned


def _number() -> str:
    return f"GZ{today():%Y%m%d}{secrets.randbelow(10**12):012d}"


def settlement_correct(
    *, settlement_id: int, actor, request_no: str, lines, reason: str = ""
) -> tuple[SettlementCorrection, bool]:
    """Record a refund of part of a settled bill made on an earlier day; returns the correction and whether it
    was created now (the same request number of the same institution returns the first one unchanged).

    Refused with nothing written: a settlement the actor may not correct (404), one made today (409: reverse it
    instead), a reversed one (409), bad lines (400), more returned than is left (409), a settlement whose split
    cannot be reproduced from what it recorded (409).
    """
    settlement = Settlement.objects.select_related("institution", "person").filter(pk=settlement_id).first()
    if settlement is None or not may_correct(actor, settlement):
        raise NotFound(_("Settlement not found."))
    request_no = (request_no or "").strip()
    if not request_no or len(request_no) > 64:
        raise _refuse(SettlementErrorCode.REQUIRED, _("Give a request number."), field="request_no")
    existing = SettlementCorrection.objects.filter(institution=settlement.institution, request_no=request_no)
    if (found := existing.first()) is not None:
        if found.settlement_id != settlement.pk:
            raise _refuse(
                SettlementErrorCode.REQUEST_NO_CONFLICT,
                _("This request number was used for another settlement."),
                field="request_no",
                status=409,
            )
        return found, False
    if timezone.localdate(settlement.settled_at) >= today():
        raise _refuse(
            SettlementErrorCode.CORRECTION_SAME_DAY,
            _("On the settlement day a refund is a reversal and a new settlement, not a correction."),
            status=409,
        )
    try:
        with transaction.atomic():
            correction = _correct(settlement, actor, request_no, lines, reason)
    except IntegrityError:
        found = existing.first()
        if found is None:
            raise
        return found, False
    return correction, True


def _correct(settlement, actor, request_no, lines, reason) -> SettlementCorrection:
    acc = _accumulator_locked(
        person=settlement.person, year=settlement.visit_date.year, scheme=settlement.scheme
    )
    settlement = (
        Settlement.objects.select_for_update().select_related("institution", "person").get(pk=settlement.pk)
    )
    if settlement.status != SettlementStatus.SETTLED:
        raise _refuse(
            SettlementErrorCode.CORRECTION_NOT_SETTLED,
            _("A reversed settlement cannot be corrected."),
            status=409,
        )
    original = {line.line_no: line.quantity for line in settlement.lines.all()}
    remaining = dict(original)
    for earlier in settlement.corrections.all():
        for row in earlier.returned:
            remaining[int(row["line_no"])] -= Decimal(row["quantity"])
    returned = _returned_checked(lines, remaining)
    reduced = {n: q - returned.get(n, Decimal(0)) for n, q in remaining.items()}

    # The recorded split must come out again from what the settlement recorded, to the fen.
    recorded = {name: getattr(settlement, name) for name in AMOUNTS}
    if _amounts(_settled(settlement, original)) != recorded:
        raise _refuse(
            SettlementErrorCode.CORRECTION_NOT_REPRODUCIBLE,
            _(
                "This settlement cannot be re-priced as it was (the catalogue has changed); it cannot be corrected."
            ),
            status=409,
        )
    now_split, reduced_split = _settled(settlement, remaining), _settled(settlement, reduced)
    now, after = _amounts(now_split), _amounts(reduced_split)
    back = {name: now[name] - after[name] for name in AMOUNTS}
    now_deltas = _deltas(now_split)  # something is left before this correction: it returns some of it
    after_deltas = _deltas(reduced_split) if reduced_split else dict.fromkeys(now_deltas, 0)
    deltas = {k: now_deltas[k] - after_deltas[k] for k in now_deltas}

    unit_prices = {line.line_no: line.unit_price for line in settlement.lines.all()}
    correction = SettlementCorrection.objects.create(
        number=_number(),
        settlement=settlement,
        institution=settlement.institution,
        operator=actor,
        request_no=request_no,
        reason=(reason or "")[:200],
        returned=[
            {
                "line_no": n,
                "quantity": str(q),
                "amount": str(calculator.to_fen(q * unit_prices[n])),
            }
            for n, q in sorted(returned.items())
        ],
        details={
            "deltas": {k: str(v) for k, v in deltas.items()},
            "reduced": {k: str(v) for k, v in after.items()},
            "before": {k: str(v) for k, v in now.items()},
        },
        **back,
    )
    _apply_deltas(acc, settlement.visit_type, {k: str(v) for k, v in deltas.items()}, -1, settlement.disease)
    if back["account_pay"]:
        account = PersonalAccount.objects.select_for_update().get(person_id=settlement.person_id)
        account.balance += back["account_pay"]
        account.save(update_fields=["balance", "updated_at"])
    audit_record(
        actor=actor,
        action="settlement.correct",
        target=settlement,
        reason=correction.reason,
        data={
            "correction": correction.number,
            "returned": correction.returned,
            **{name: str(value) for name, value in back.items()},
        },
    )
    notification_create(
        person=settlement.person,
        event="settlement_corrected",
        context={
            "settlement_id": str(settlement.pk),
            "settlement_number": settlement.number,
            "institution_name": settlement.institution.name,
            "refund_total": str(back["total"]),
            "person_refund": str(back["person_pays"]),
        },
    )
    return correction


def accumulator_of(settlement: Settlement) -> Accumulator | None:
    return Accumulator.objects.filter(
        person_id=settlement.person_id, year=settlement.visit_date.year, scheme=settlement.scheme
    ).first()


# --- Clearing ------------------------------------------------------------------------------------------------


def clearing_pending(*, end) -> dict[tuple[str, str, str], list[SettlementCorrection]]:
    """Corrections of cross-provincial settlements made before ``end`` that no statement carries yet, by
    insured province, treatment province and scheme: the statement built next for that direction carries them.
    A confirmed statement keeps the ones it carries; a rebuilt draft gives its own back first."""
    pending: dict[tuple[str, str, str], list[SettlementCorrection]] = {}
    rows = (
        SettlementCorrection.objects.filter(statement__isnull=True, created_at__lt=end)
        .select_related("settlement")
        .order_by("created_at", "pk")
    )
    for correction in rows:
        s = correction.settlement
        if s.insured_province == s.treatment_province:
            continue
        pending.setdefault((s.insured_province, s.treatment_province, s.scheme), []).append(correction)
    return pending


def clearing_net(sums: dict[str, Decimal], corrections: list[SettlementCorrection]) -> dict[str, Decimal]:
    """A statement's sums net of the corrections it carries (each an adjustment line of negative amounts)."""
    return {name: value - sum((getattr(c, name) for c in corrections), ZERO) for name, value in sums.items()}


def clearing_carry(statement, corrections: list[SettlementCorrection]) -> None:
    SettlementCorrection.objects.filter(pk__in=[c.pk for c in corrections]).update(statement=statement)
