"""Whether a bill may be settled, and for whom: the person, the filing that covers them, the disease, the lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.choices import ChronicDisease
from accounts.models import certified_diseases_on
from accounts.services import person_get_by_id_number
from core.dates import today
from core.errors import ServiceError
from core.errors import refusal as _refuse
from filing.choices import CoverageReason, FilingGroup
from filing.coverage import (
    emergency_overrides,
    emergency_problem,
    filing_coverage,
    filings_in_force_here,
)
from filing.services import filing_record_emergency

from .. import calculator
from ..choices import VisitType
from ..errors import SettlementErrorCode
from ..models import MONEY_LIMIT


@dataclass(frozen=True)
class ItemInput:
    code: str
    quantity: Decimal
    unit_price: Decimal
    name: str = ""
    lmt_used_flag: bool = False  # the counter confirms the item's restricted-use condition is met


def _service_date(*, visit_type: str, visit_date, admission_date, discharge_date) -> dt.date:
    """The date the bill belongs to: the discharge date for an inpatient stay, else the visit date."""
    if visit_type not in VisitType.values:
        raise _refuse(SettlementErrorCode.INVALID_VISIT_TYPE, _("Unknown visit type."), field="visit_type")
    if visit_type == VisitType.INPATIENT:
        if admission_date is None or discharge_date is None:
            raise _refuse(
                SettlementErrorCode.INVALID_DATES,
                _("An inpatient settlement needs the admission and discharge dates."),
                field="discharge_date",
            )
        if admission_date > discharge_date:
            raise _refuse(
                SettlementErrorCode.INVALID_DATES,
                _("The discharge cannot precede the admission."),
                field="discharge_date",
            )
        day = discharge_date
    else:
        if visit_date is None:
            raise _refuse(
                SettlementErrorCode.INVALID_DATES, _("The visit date is required."), field="visit_date"
            )
        day = visit_date
    if day > today():
        raise _refuse(
            SettlementErrorCode.INVALID_DATES, _("The date cannot be in the future."), field="visit_date"
        )
    return day


def _identify(*, institution, use_id, filing_id, id_number, visit_type):
    """The person and, on the filing path, the filing named by the counter; the code event on the e-code path."""
    if use_id is not None:
        from ecode.selectors import code_event_for_settlement

        event = code_event_for_settlement(event_id=use_id, institution=institution)
        return event.person, None, event
    if filing_id is None or not id_number:
        raise _refuse(
            SettlementErrorCode.MISSING_CREDENTIAL,
            _("Scan the person's e-code first, or give the filing and ID number for a discharge."),
        )
    if visit_type != VisitType.INPATIENT:
        raise _refuse(
            SettlementErrorCode.MISSING_CREDENTIAL,
            _("Settling by filing and ID number is for inpatient discharge only; scan the e-code."),
        )
    from filing.models import Filing

    filing = Filing.objects.filter(pk=filing_id).first()
    person = person_get_by_id_number(id_number)
    if filing is None:
        raise _refuse(
            SettlementErrorCode.UNKNOWN_FILING, _("There is no such filing."), field="filing_id", status=404
        )
    if person is None or filing.person_id != person.pk:
        raise _refuse(
            SettlementErrorCode.FILING_NOT_OF_PERSON,
            _("The filing does not belong to the person with this ID number."),
            field="id_number",
        )
    return person, filing, None


def _covering_filing(
    *, person, institution, service_date, visit_type, named_filing, emergency, operator, record: bool
):
    """The filing under which the bill is settled, its group, and whether it is an emergency recorded as filed.

    An emergency without a filing is recorded as filed when ``record`` is true; otherwise (a preview) the filing
    is None and the group the recorded filing will have is returned, after the same checks.
    """
    coverage = filing_coverage(
        person=person, institution=institution, on_date=service_date, service=visit_type
    )
    if coverage.applies:
        if named_filing is None or coverage.filing.pk == named_filing.pk:
            return coverage.filing, coverage.filing.group, False
        # The counter named another of the person's filings: it must itself be in force here.
        if named_filing.pk in filings_in_force_here(
            person=person, institution=institution, on_date=service_date
        ):
            return named_filing, named_filing.group, False
        raise _refuse(
            SettlementErrorCode.NOT_COVERED,
            _("The named filing is not in force at this institution."),
            field="filing_id",
            reason=CoverageReason.OTHER_DESTINATION.value,
        )
    if emergency and emergency_overrides(coverage):  # treated as filed, where one can be recorded
        if record:
            filing = filing_record_emergency(
                person=person, institution=institution, on_date=service_date, actor=operator
            )
            return filing, filing.group, True
        problem = emergency_problem(person=person, institution=institution)
        if problem is not None:
            raise ServiceError(*problem)
        return None, FilingGroup.EMERGENCY.value, True
    raise ServiceError(coverage.reason, coverage.message, fields={"reason": coverage.reason}, status=409)


def _check_disease(*, person, terms, visit_type: str, disease: str, on_date) -> None:
    """A chronic/special-disease visit names a disease the person is certified for on the visit date; where
    the policy limits diseases, it must name one."""
    if visit_type != VisitType.CHRONIC_OUTPATIENT:
        return
    if not disease:
        if terms.disease_limits:
            raise _refuse(
                SettlementErrorCode.DISEASE_REQUIRED,
                _("Give the certified chronic disease treated at this visit."),
                field="disease",
                status=409,
            )
        return
    if disease not in certified_diseases_on(person, on_date):
        raise _refuse(
            SettlementErrorCode.DISEASE_NOT_CERTIFIED,
            _("The person is not certified for this chronic disease on the visit date."),
            field="disease",
            status=409,
        )


def _bill_checked(
    *, visit_type: str, items: list[ItemInput], visit_date, admission_date, discharge_date, disease: str = ""
) -> tuple[dt.date, list[calculator.BillItem]]:
    """The bill's service date and items, or the refusal; nothing is looked up for this."""
    service_date = _service_date(
        visit_type=visit_type,
        visit_date=visit_date,
        admission_date=admission_date,
        discharge_date=discharge_date,
    )
    bill = [
        calculator.BillItem(
            code=i.code.strip(),
            quantity=i.quantity,
            unit_price=i.unit_price,
            name=i.name,
            restricted_use_met=i.lmt_used_flag,
        )
        for i in items
    ]
    if not bill:
        raise _refuse(SettlementErrorCode.NO_ITEMS, _("The bill has no items."), field="items")
    if disease and (visit_type != VisitType.CHRONIC_OUTPATIENT or disease not in ChronicDisease.values):
        raise _refuse(
            SettlementErrorCode.INVALID_DISEASE,
            _(
                "A chronic disease is given only for a chronic/special-disease outpatient visit, from the list."
            ),
            field="disease",
        )
    # Bad items are refused before anything else is looked at or written.
    try:
        lines = calculator.itemise(bill, {})
    except calculator.CalculationError as exc:
        raise _refuse(
            exc.code, _("Quantities must be positive and prices not negative."), field=exc.field
        ) from None
    # Every amount of a settlement is stored in a money column; a bill beyond them is a typing error.
    if sum(line.amount for line in lines) >= MONEY_LIMIT:
        raise _refuse(
            SettlementErrorCode.AMOUNT_TOO_LARGE,
            _("The bill's amount is beyond what a settlement can hold; check the quantities and prices."),
            field="items",
        )
    return service_date, bill
