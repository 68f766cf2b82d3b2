"""What one province owes another for a month: statements, their confirmation, prepayments and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.audit import audit_record

from ..choices import (
    ClearingStatus,
    SettlementStatus,
)
from ..models import (
    ClearingLine,
    ClearingStatement,
    Prepayment,
    Settlement,
)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def previous_month(day: dt.date) -> dt.date:
    return month_start(month_start(day) - dt.timedelta(days=1))


def _month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(month, dt.time.min, tzinfo=tz)
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, dt.datetime.combine(next_month, dt.time.min, tzinfo=tz)


_SUMMED = (
    "total",
    "basic_fund",
    "large_amount_fund",
    "critical_fund",
    "assistance_fund",
    "account_pay",
    "person_pays",
)


@transaction.atomic(durable=True)
def clearing_build(*, month: dt.date, actor=None) -> list[ClearingStatement]:
    """Build (or rebuild) the month's clearing statements: one per insured province → treatment province,
    summing the settled, non-reversed cross-provincial settlements made that month (Asia/Shanghai).

    Idempotent: draft statements of the month are rebuilt from the settlements, confirmed ones are left as
    they are. Each statement's lines are its settlements, so the statement reconciles to them exactly.
    """
    month = month_start(month)
    start, end = _month_bounds(month)
    confirmed = set(
        ClearingStatement.objects.filter(month=month, status=ClearingStatus.CONFIRMED).values_list(
            "insured_province_id", "treatment_province_id", "scheme"
        )
    )
    ClearingStatement.objects.filter(month=month, status=ClearingStatus.DRAFT).delete()
    settlements = (
        Settlement.objects.filter(status=SettlementStatus.SETTLED, settled_at__gte=start, settled_at__lt=end)
        .exclude(insured_province=F("treatment_province"))
        .order_by("insured_province", "treatment_province", "scheme", "pk")
    )
    # One statement per direction and scheme (employee / resident): the schemes are separate funds.
    groups: dict[tuple[str, str, str], list[Settlement]] = {}
    for settlement in settlements:
        key = (settlement.insured_province, settlement.treatment_province, settlement.scheme)
        groups.setdefault(key, []).append(settlement)
    # Corrections of earlier settlements not carried yet: adjustment lines of this month's statements.
    from ..corrections import clearing_carry, clearing_net, clearing_pending

    adjustments = clearing_pending(end=end)
    for key in sorted(adjustments):
        groups.setdefault(key, [])
    built = []
    now = timezone.now()
    for (insured, treatment, scheme), members in groups.items():
        # A statement confirmed before the split by scheme ("") covers both schemes of its direction.
        if (insured, treatment, scheme) in confirmed or (insured, treatment, "") in confirmed:
            continue
        sums = {name: sum((getattr(s, name) for s in members), Decimal("0.00")) for name in _SUMMED}
        carried = adjustments.get((insured, treatment, scheme), [])
        sums = clearing_net(sums, carried)
        statement = ClearingStatement.objects.create(
            month=month,
            insured_province_id=insured,
            treatment_province_id=treatment,
            scheme=scheme,
            settlement_count=len(members),
            adjustment_count=len(carried),
            fund_total=sums["basic_fund"]
            + sums["large_amount_fund"]
            + sums["critical_fund"]
            + sums["assistance_fund"],
            built_at=now,
            **sums,
        )
        ClearingLine.objects.bulk_create(
            [
                ClearingLine(
                    statement=statement,
                    settlement=s,
                    institution_id=s.institution_id,
                    **{name: getattr(s, name) for name in _SUMMED},
                )
                for s in members
            ]
        )
        clearing_carry(statement, carried)
        audit_record(
            actor=actor,
            action="clearing.build",
            target=statement,
            to_state=statement.status,
            data={"count": len(members), "fund_total": str(statement.fund_total)},
        )
        built.append(statement)
    return built


@transaction.atomic(durable=True)
def clearing_confirm(*, statement: ClearingStatement, actor) -> ClearingStatement:
    """Freeze a statement: later rebuilds of its month leave it unchanged."""
    statement = ClearingStatement.objects.select_for_update().get(pk=statement.pk)
    if statement.status == ClearingStatus.CONFIRMED:
        return statement
    statement.status = ClearingStatus.CONFIRMED
    statement.confirmed_at = timezone.now()
    statement.save(update_fields=["status", "confirmed_at"])
    audit_record(
        actor=actor,
        action="clearing.confirm",
        target=statement,
        from_state=ClearingStatus.DRAFT,
        to_state=ClearingStatus.CONFIRMED,
    )
    return statement


CLEARING_CSV_COLUMNS = [
    "month",
    "insured_province",
    "treatment_province",
    "scheme",
    "settlement_number",
    "institution",
    "settled_at",
    "total",
    "basic_fund",
    "large_amount_fund",
    "critical_fund",
    "assistance_fund",
    "account_pay",
    "person_pays",
]


@transaction.atomic
def prepayment_save(*, prepayment: Prepayment, actor) -> Prepayment:
    """Record (or correct) a province's prepayment for a month, with an audit row."""
    created = prepayment.pk is None
    if created:
        prepayment.created_by = actor
    prepayment.save()
    audit_record(
        actor=actor,
        action="prepayment.record" if created else "prepayment.change",
        target=prepayment,
        data={"amount": str(prepayment.amount), "month": prepayment.month.isoformat()},
    )
    return prepayment


def clearing_export(*, statements) -> str:
    """CSV of the statements' lines and, per statement, a total row; amounts in yuan with two decimals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CLEARING_CSV_COLUMNS)
    for statement in statements:
        lines = statement.lines.select_related("settlement", "institution").order_by(
            "settlement__settled_at", "settlement_id"
        )
        month = f"{statement.month:%Y-%m}"
        for line in lines:
            writer.writerow(
                [
                    month,
                    statement.insured_province_id,
                    statement.treatment_province_id,
                    statement.scheme,
                    line.settlement.number,
                    line.institution.code,
                    timezone.localtime(line.settlement.settled_at).isoformat(timespec="seconds"),
                    line.total,
                    line.basic_fund,
                    line.large_amount_fund,
                    line.critical_fund,
                    line.assistance_fund,
                    line.account_pay,
                    line.person_pays,
                ]
            )
        # Corrections carried here: adjustment lines, amounts negative, named by the correction's number.
        for correction in statement.adjustments.select_related("institution").order_by("created_at", "pk"):
            writer.writerow(
                [
                    month,
                    statement.insured_province_id,
                    statement.treatment_province_id,
                    statement.scheme,
                    correction.number,
                    correction.institution.code,
                    timezone.localtime(correction.created_at).isoformat(timespec="seconds"),
                    *(-getattr(correction, name) for name in CLEARING_CSV_COLUMNS[7:]),
                ]
            )
        writer.writerow(
            [
                month,
                statement.insured_province_id,
                statement.treatment_province_id,
                statement.scheme,
                "TOTAL",
                statement.settlement_count,
                "",
                statement.total,
                statement.basic_fund,
                statement.large_amount_fund,
                statement.critical_fund,
                statement.assistance_fund,
                statement.account_pay,
                statement.person_pays,
            ]
        )
    return out.getvalue()


def clearing_month_totals(*, month: dt.date) -> dict[str, Decimal]:
    """The sums of the month's cleared settlements straight from the settlements (for reconciliation)."""
    start, end = _month_bounds(month_start(month))
    agg = (
        Settlement.objects.filter(status=SettlementStatus.SETTLED, settled_at__gte=start, settled_at__lt=end)
        .exclude(insured_province=F("treatment_province"))
        .aggregate(**{name: Sum(name) for name in _SUMMED})
    )
    return {k: v or Decimal("0.00") for k, v in agg.items()}
