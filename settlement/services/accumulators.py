"""What a person has used this year and holds in their personal account, read or locked for a move."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from core.errors import refusal as _refuse
from reference.choices import Scheme

from .. import calculator
from ..choices import VisitType
from ..errors import SettlementErrorCode
from ..models import (
    Accumulator,
    PersonalAccount,
)


def _accumulator_locked(*, person, year: int, scheme: str) -> Accumulator:
    """The person's accumulator row for the year, created if missing, locked until the transaction ends.

    Every settlement and reversal of the person takes this lock first, so concurrent ones run one after the
    other and each sees the totals the previous one left.
    """
    Accumulator.objects.get_or_create(person=person, year=year, scheme=scheme)
    return Accumulator.objects.select_for_update().get(person=person, year=year, scheme=scheme)


def _accumulator_read(*, person, year: int, scheme: str) -> Accumulator:
    """The person's accumulator row for the year as it stands, unsaved and all zero if there is none yet."""
    found = Accumulator.objects.filter(person=person, year=year, scheme=scheme).first()
    return found or Accumulator(person=person, year=year, scheme=scheme)


def _ytd(acc: Accumulator, visit_type: str, disease: str = "") -> calculator.YearToDate:
    return calculator.YearToDate(
        deductible_paid=getattr(acc, Accumulator.deductible_field(visit_type)),
        basic_fund_paid=acc.basic_fund_paid,
        large_amount_paid=acc.large_amount_paid,
        critical_fund_paid=acc.critical_fund_paid,
        assistance_paid=acc.assistance_paid,
        burden=acc.burden,
        assistance_outpatient_paid=acc.assistance_outpatient_paid,
        assistance_deductible_paid=getattr(acc, Accumulator.assistance_deductible_field(visit_type)),
        general_outpatient_basic_paid=acc.general_outpatient_basic_paid,
        admissions=acc.admissions,
        disease_basic_paid=Decimal((acc.disease_basic_paid or {}).get(disease, "0.00"))
        if disease
        else Decimal("0.00"),
    )


def _deltas(split: calculator.Split) -> dict[str, Decimal]:
    """What this settlement adds to each accumulator; a reversal subtracts exactly these."""
    return {
        "deductible": split.deductible,
        "basic_fund_paid": split.basic_fund,
        "large_amount_paid": split.large_amount,
        "assistance_deductible": split.assistance_deductible,
        "assistance_outpatient_paid": split.after.assistance_outpatient_paid
        - split.before.assistance_outpatient_paid,
        "general_outpatient_basic_paid": split.after.general_outpatient_basic_paid
        - split.before.general_outpatient_basic_paid,
        "disease_basic_paid": split.after.disease_basic_paid - split.before.disease_basic_paid,
        "admissions": split.after.admissions - split.before.admissions,
        "critical_fund_paid": split.critical_fund,
        "assistance_paid": split.assistance,
        "burden": split.after.burden - split.before.burden,
    }


def _apply_deltas(acc: Accumulator, visit_type: str, deltas: dict, sign: int, disease: str = "") -> None:
    deductible_field = Accumulator.deductible_field(visit_type)
    setattr(acc, deductible_field, getattr(acc, deductible_field) + sign * Decimal(deltas["deductible"]))
    for name in ("basic_fund_paid", "critical_fund_paid", "assistance_paid", "burden"):
        setattr(acc, name, getattr(acc, name) + sign * Decimal(deltas[name]))
    # Settlements made before these accumulators existed have no delta for them.
    acc.large_amount_paid += sign * Decimal(deltas.get("large_amount_paid", "0"))
    acc.assistance_outpatient_paid += sign * Decimal(deltas.get("assistance_outpatient_paid", "0"))
    acc.general_outpatient_basic_paid += sign * Decimal(deltas.get("general_outpatient_basic_paid", "0"))
    acc.admissions += sign * int(deltas.get("admissions", 0))
    if disease:
        per_disease = dict(acc.disease_basic_paid or {})
        paid = Decimal(per_disease.get(disease, "0.00")) + sign * Decimal(
            deltas.get("disease_basic_paid", "0")
        )
        per_disease[disease] = str(paid)
        acc.disease_basic_paid = per_disease
    assistance_deductible_field = Accumulator.assistance_deductible_field(visit_type)
    setattr(
        acc,
        assistance_deductible_field,
        getattr(acc, assistance_deductible_field) + sign * Decimal(deltas.get("assistance_deductible", "0")),
    )
    acc.save(
        update_fields=[
            deductible_field,
            "basic_fund_paid",
            "large_amount_paid",
            "assistance_outpatient_paid",
            assistance_deductible_field,
            "general_outpatient_basic_paid",
            "disease_basic_paid",
            "admissions",
            "critical_fund_paid",
            "assistance_paid",
            "burden",
            "updated_at",
        ]
    )


def _account_locked(*, person, visit_type: str, lock: bool = True):
    """The employee's personal account for a settlement the person agreed to pay from it (locked when
    settling; a preview reads it as it stands)."""
    if visit_type == VisitType.INPATIENT:
        raise _refuse(
            SettlementErrorCode.ACCOUNT_NOT_FOR_INPATIENT,
            _("The personal account pays only at outpatient counters and pharmacies."),
            field="acct_used_flag",
        )
    accounts = PersonalAccount.objects.select_for_update() if lock else PersonalAccount.objects
    account = accounts.filter(person=person).first()
    if person.scheme != Scheme.EMPLOYEE or account is None:
        raise _refuse(
            SettlementErrorCode.NO_PERSONAL_ACCOUNT,
            _("The person has no personal account to pay from."),
            field="acct_used_flag",
            status=409,
        )
    return account
