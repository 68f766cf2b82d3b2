"""Settlement writes: settle a bill at the counter, reverse it, import catalogues, build clearing statements,
raise and review supervision flags. Every state change runs in one transaction with its audit row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import secrets
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import ChronicDisease
from accounts.models import certified_diseases_on, identities_on
from accounts.services import person_get_by_id_number
from core.audit import audit_record
from core.dates import today
from core.deferred import deferrable, deferred_create
from core.errors import NotFound, ServiceError
from core.errors import refusal as _refuse
from core.integrity import violated_constraint
from filing.choices import CoverageReason, FilingGroup
from filing.coverage import (
    emergency_overrides,
    emergency_problem,
    filing_coverage,
    filings_in_force_here,
)
from filing.services import filing_record_emergency
from notifications.services import notification_create
from reference.choices import Scheme
from reference.models import Region
from reference.selectors import province_code
from reference.services import ImportResult, RowError, csv_rows_validate

from . import calculator
from .choices import (
    ClearingStatus,
    CoverageClass,
    FlagKind,
    FlagStatus,
    ItemCategory,
    SettlementStatus,
    VisitType,
)
from .errors import SettlementErrorCode
from .models import (
    MONEY_LIMIT,
    Accumulator,
    Catalogue,
    CatalogueItem,
    ClearingLine,
    ClearingStatement,
    PersonalAccount,
    Policy,
    Prepayment,
    Settlement,
    SettlementLine,
    SupervisionFlag,
)
from .selectors import catalogue_entries, policy_in_force, policy_terms

if TYPE_CHECKING:
    from accounts.models import InsuredPerson
    from ecode.models import CodeEvent
    from filing.models import Filing
    from reference.models import Institution

    from .models import Policy

logger = logging.getLogger(__name__)


# --- Settling ------------------------------------------------------------------------------------------------


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


def _terms_snapshot(terms: calculator.PolicyTerms, visit_type: str, level: int) -> dict:
    rate = terms.rates[(visit_type, level)]
    return {
        "deductible": str(rate.deductible),
        "fund_ratio": str(rate.fund_ratio),
        "retiree_fund_ratio": None if rate.retiree_fund_ratio is None else str(rate.retiree_fund_ratio),
        "retiree_deductible": None if rate.retiree_deductible is None else str(rate.retiree_deductible),
        "repeat_admission_factor": str(terms.repeat_admission_factor),
        "annual_cap": str(terms.annual_cap),
        "deductible_per_admission": terms.deductible_per_admission,
        "group_cuts": {k: str(v) for k, v in terms.group_cuts.items()},
        "group_terms": terms.group_terms,
        "critical_threshold": str(terms.critical_threshold),
        "critical_tiers": [[str(t.lower), str(t.ratio)] for t in terms.critical_tiers],
        "critical_cap": str(terms.critical_cap),
        "general_outpatient_cap": None
        if terms.general_outpatient_cap is None
        else str(terms.general_outpatient_cap),
        "general_outpatient_counts_to_critical": terms.general_outpatient_counts_to_critical,
        "disease_limits": {k: str(v) for k, v in terms.disease_limits.items()},
        "large_amount_ratio": str(terms.large_amount_ratio),
        "large_amount_cap": str(terms.large_amount_cap),
        "assistance": {
            k: [
                str(v.ratio),
                str(v.annual_cap),
                str(v.deductible),
                None if v.outpatient_ratio is None else str(v.outpatient_ratio),
                str(v.outpatient_deductible),
                None if v.outpatient_cap is None else str(v.outpatient_cap),
            ]
            for k, v in terms.assistance.items()
        },
        "preferential": None
        if terms.preferential is None
        else {
            "identities": sorted(terms.preferential.identities),
            "threshold_factor": str(terms.preferential.threshold_factor),
            "ratio_bonus": str(terms.preferential.ratio_bonus),
            "uncapped": terms.preferential.uncapped,
        },
    }


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


def _settlement_number() -> str:
    return f"JS{today():%Y%m%d}{secrets.randbelow(10**12):012d}"


def _existing_by_request_no(institution, request_no: str) -> Settlement | None:
    if not request_no:
        return None
    return Settlement.objects.filter(institution=institution, request_no=request_no).first()


@dataclass(frozen=True)
class SettlementPreview:
    """The split a bill would get if settled now (预结算): computed exactly as a settlement is, nothing saved.

    ``filing`` is None for an emergency that settling would record as filed (``recorded_emergency``); the
    group it would have is ``filing_group``.
    """

    person: InsuredPerson
    institution: Institution
    event: CodeEvent | None
    filing: Filing | None
    filing_group: str
    emergency: bool
    recorded_emergency: bool
    visit_type: str
    service_date: dt.date
    admission_date: dt.date | None
    discharge_date: dt.date | None
    policy: Policy
    terms: calculator.PolicyTerms
    treatment_province: str
    split: calculator.Split
    disease: str = ""
    account: PersonalAccount | None = None  # the personal account the person agreed to pay from


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


def _priced(
    *,
    operator,
    visit_type: str,
    bill: list[calculator.BillItem],
    service_date: dt.date,
    admission_date,
    discharge_date,
    use_id,
    filing_id,
    id_number,
    emergency: bool,
    settling: bool,
    disease: str = "",
    acct_used_flag: bool = False,
) -> tuple[SettlementPreview, Accumulator]:
    """The one computation of a bill's split, for a preview and for a settlement alike.

    Settling (inside the caller's transaction) locks the person's accumulator and records an emergency as
    filed; a preview reads the accumulator as it stands and writes nothing. Every check is the same.
    """
    institution = operator.institution
    person, named_filing, event = _identify(
        institution=institution,
        use_id=use_id,
        filing_id=filing_id,
        id_number=id_number,
        visit_type=visit_type,
    )
    if not person.is_active:
        raise _refuse(
            SettlementErrorCode.PERSON_NOT_ACTIVE, _("The person's insurance is not active."), status=409
        )
    policy = policy_in_force(region_code=person.insured_region_id, scheme=person.scheme, on_date=service_date)
    if policy is None:
        raise _refuse(
            SettlementErrorCode.NO_POLICY,
            _("The insured place has no benefit policy in force for this date."),
            status=409,
        )
    terms = policy_terms(policy)
    _check_disease(person=person, terms=terms, visit_type=visit_type, disease=disease, on_date=service_date)
    if (visit_type, institution.level) not in terms.rates:
        raise _refuse(
            SettlementErrorCode.POLICY_INCOMPLETE,
            _("The insured place's policy has no rate for this visit type and institution level."),
            status=409,
        )

    # The person's lock comes first: the same use or request settled concurrently is seen after it.
    accumulator = _accumulator_locked if settling else _accumulator_read
    acc = accumulator(person=person, year=service_date.year, scheme=person.scheme)
    if event is not None and Settlement.objects.filter(code_event=event).exists():
        raise _refuse(
            SettlementErrorCode.USE_ALREADY_SETTLED,
            _("This use of the e-code is already settled."),
            status=409,
        )
    filing, filing_group, recorded_emergency = _covering_filing(
        person=person,
        institution=institution,
        service_date=service_date,
        visit_type=visit_type,
        named_filing=named_filing,
        emergency=emergency,
        operator=operator,
        record=settling,
    )
    # Settling locks the personal account with the accumulator; a preview reads it as it stands.
    account = _account_locked(person=person, visit_type=visit_type, lock=settling) if acct_used_flag else None
    treatment_province = province_code(institution.region_id)
    catalogue = catalogue_entries(province=treatment_province, codes=[item.code for item in bill])
    split = calculator.settle(
        policy=terms,
        catalogue=catalogue,
        items=bill,
        person=calculator.PersonFacts(
            retired=person.retired,
            filing_group=filing_group,
            assistance_category=person.assistance_category,
            identities=identities_on(person, service_date),
            account_balance=account.balance if account is not None else None,
        ),
        ytd=_ytd(acc, visit_type, disease),
        visit=calculator.Visit(visit_type=visit_type, institution_level=institution.level, disease=disease),
    )
    preview = SettlementPreview(
        person=person,
        institution=institution,
        event=event,
        filing=filing,
        filing_group=filing_group,
        emergency=emergency or recorded_emergency,
        recorded_emergency=recorded_emergency,
        visit_type=visit_type,
        service_date=service_date,
        admission_date=admission_date if visit_type == VisitType.INPATIENT else None,
        discharge_date=discharge_date if visit_type == VisitType.INPATIENT else None,
        policy=policy,
        terms=terms,
        treatment_province=treatment_province,
        split=split,
        disease=disease,
        account=account,
    )
    return preview, acc


def settlement_preview(
    *,
    operator,
    visit_type: str,
    items: list[ItemInput],
    visit_date: dt.date | None = None,
    admission_date: dt.date | None = None,
    discharge_date: dt.date | None = None,
    use_id: int | None = None,
    filing_id: int | None = None,
    id_number: str = "",
    emergency: bool = False,
    request_no: str = "",
    disease: str = "",
    acct_used_flag: bool = False,
) -> SettlementPreview:
    """The split ``settlement_create`` would give this bill now, with the same refusals; nothing is written,
    no lock is kept and the use stays unsettled. ``request_no`` is accepted (the same input) and not used."""
    service_date, bill = _bill_checked(
        visit_type=visit_type,
        items=items,
        visit_date=visit_date,
        admission_date=admission_date,
        discharge_date=discharge_date,
        disease=(disease or "").strip(),
    )
    preview, _acc = _priced(
        operator=operator,
        visit_type=visit_type,
        bill=bill,
        service_date=service_date,
        admission_date=admission_date,
        discharge_date=discharge_date,
        use_id=use_id,
        filing_id=filing_id,
        id_number=id_number,
        emergency=emergency,
        settling=False,
        disease=(disease or "").strip(),
        acct_used_flag=acct_used_flag,
    )
    return preview


def settlement_create(
    *,
    operator,
    visit_type: str,
    items: list[ItemInput],
    visit_date: dt.date | None = None,
    admission_date: dt.date | None = None,
    discharge_date: dt.date | None = None,
    use_id: int | None = None,
    filing_id: int | None = None,
    id_number: str = "",
    emergency: bool = False,
    request_no: str = "",
    disease: str = "",
    acct_used_flag: bool = False,
) -> tuple[Settlement, bool]:
    """Settle a bill at the operator's institution; returns the settlement and whether it was created now.

    The same request number at the same institution returns the first settlement unchanged (a counter may
    retry after a timeout). Refused, with nothing written: an unknown visit type, bad dates or items
    (400), a use or filing that is not the person's (400/403/404), no filing in force here (409, code = the
    coverage reason, except an emergency, which is recorded as filed), no policy of the insured place (409).
    """
    institution = operator.institution
    request_no = (request_no or "").strip()
    existing = _existing_by_request_no(institution, request_no)
    if existing is not None:
        return existing, False
    service_date, bill = _bill_checked(
        visit_type=visit_type,
        items=items,
        visit_date=visit_date,
        admission_date=admission_date,
        discharge_date=discharge_date,
        disease=(disease or "").strip(),
    )

    try:
        with transaction.atomic():
            preview, acc = _priced(
                operator=operator,
                visit_type=visit_type,
                bill=bill,
                service_date=service_date,
                admission_date=admission_date,
                discharge_date=discharge_date,
                use_id=use_id,
                filing_id=filing_id,
                id_number=id_number,
                emergency=emergency,
                settling=True,
                disease=(disease or "").strip(),
                acct_used_flag=acct_used_flag,
            )
            settlement = _record(preview=preview, acc=acc, operator=operator, request_no=request_no)
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if "request_no" in constraint:  # a concurrent request with the same number won the race
            existing = _existing_by_request_no(institution, request_no)
            if existing is not None:
                return existing, False
        if "code_event" in constraint:  # the same use was settled meanwhile
            raise _refuse(
                SettlementErrorCode.USE_ALREADY_SETTLED,
                _("This use of the e-code is already settled."),
                status=409,
            ) from None
        # Not the counter's doing: said as it is, and logged with the constraint only (no personal data).
        logger.error("Settlement not recorded: the database refused it (constraint %s)", constraint or "?")
        raise _refuse(
            SettlementErrorCode.NOT_RECORDED,
            _("The settlement could not be recorded (a check of the records failed); nothing was saved."),
            status=409,
            constraint=constraint,
        ) from None
    return settlement, True


def _record(*, preview: SettlementPreview, acc: Accumulator, operator, request_no: str) -> Settlement:
    """Write the computed settlement, its lines, the accumulators, the audit row and the notification."""
    split, person, institution = preview.split, preview.person, preview.institution
    visit_type, filing = preview.visit_type, preview.filing
    account = preview.account
    deltas = _deltas(split)
    settlement = Settlement.objects.create(
        number=_settlement_number(),
        person=person,
        institution=institution,
        operator=operator,
        code_event=preview.event,
        filing=filing,
        filing_group=filing.group,
        emergency=preview.emergency,
        request_no=request_no,
        visit_type=visit_type,
        disease=preview.disease,
        visit_date=preview.service_date,
        admission_date=preview.admission_date,
        discharge_date=preview.discharge_date,
        scheme=person.scheme,
        insured_region_id=person.insured_region_id,
        insured_province=province_code(person.insured_region_id),
        treatment_province=preview.treatment_province,
        institution_level=institution.level,
        retired=person.retired,
        assistance_category=split.assistance_category or person.assistance_category,
        policy=preview.policy,
        total=split.total,
        self_paid=split.self_paid,
        first_share=split.first_share,
        eligible=split.eligible,
        overlmt_selfpay=split.overlmt_selfpay,
        group_share=split.group_share,
        deductible=split.deductible,
        ratio=split.ratio,
        basic_fund=split.basic_fund,
        large_amount_fund=split.large_amount,
        critical_fund=split.critical_fund,
        assistance_fund=split.assistance,
        person_pays=split.person_pays,
        account_pay=split.account_pay,
        account_balance_after=account.balance - split.account_pay if account is not None else None,
        fund_ratio=split.fund_ratio,
        details={
            "terms": _terms_snapshot(preview.terms, visit_type, institution.level),
            "before": {k: str(v) for k, v in asdict(split.before).items()},
            "after": {k: str(v) for k, v in asdict(split.after).items()},
            "deltas": {k: str(v) for k, v in deltas.items()},
            "capped": {
                "basic": split.basic_capped,
                "large_amount": split.large_amount_capped,
                "critical": split.critical_capped,
                "assistance": split.assistance_capped,
            },
            "recorded_emergency_filing": preview.recorded_emergency,
            "rules": calculator.applied_rules(split),
        },
    )
    SettlementLine.objects.bulk_create(
        [
            SettlementLine(
                settlement=settlement,
                line_no=n,
                code=line.code,
                name=line.name[:200],
                category=line.category,
                coverage_class=line.coverage_class,
                in_catalogue=line.in_catalogue,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                self_paid=line.self_paid,
                first_share=line.first_share,
                eligible=line.eligible,
                overlmt_selfpay=line.overlmt_selfpay,
                self_pay_reason=line.self_pay_reason,
            )
            for n, line in enumerate(split.lines, 1)
        ]
    )
    _apply_deltas(acc, visit_type, deltas, +1, preview.disease)
    if account is not None and split.account_pay:
        account.balance -= split.account_pay
        account.save(update_fields=["balance", "updated_at"])
    audit_record(
        actor=operator,
        action="settlement.settle",
        target=settlement,
        to_state=settlement.status,
        data={
            "number": settlement.number,
            "total": str(split.total),
            "funds": str(split.fund_total),
            "person_pays": str(split.person_pays),
            "filing": filing.pk,
            "emergency": settlement.emergency,
        },
    )
    notification_create(
        person=person,
        event="settlement_completed",
        context={
            "settlement_id": str(settlement.pk),
            "settlement_number": settlement.number,
            "institution_name": institution.name,
            "total": str(settlement.total),
            "person_pays": str(settlement.person_pays),
        },
    )
    # Recorded with the settlement and run after it commits; the sweep runs it if the broker was away.
    deferred_create(supervision_check, settlement_id=settlement.pk)
    return settlement


# --- Reversal ------------------------------------------------------------------------------------------------


def settlement_reverse(*, settlement_id: int, operator, reason: str = "") -> Settlement:
    """Reverse (冲正) a settlement on the day it was made, by a counter of the institution that made it.

    The accumulators lose exactly what the settlement added; a second reversal is refused. Later settlements
    of the same person and year were computed on top of this one (deductible, caps, tiers), so they must be
    reversed first, newest first.
    """
    settlement = Settlement.objects.select_related("institution", "person").filter(pk=settlement_id).first()
    if settlement is None or settlement.institution_id != operator.institution_id:
        # Another institution's settlement is not even acknowledged.
        raise NotFound(_("Settlement not found."))
    if timezone.localdate(settlement.settled_at) != today():
        raise _refuse(
            SettlementErrorCode.REVERSAL_NOT_SAME_DAY,
            _("A settlement can be reversed only on the day it was made."),
            status=409,
        )
    # Not durable: the national interface (his) stores its answer to 2208/2305 in the same transaction, so
    # that a retried msgid gets the answer of a reversal that happened, never a second attempt.
    with transaction.atomic():
        acc = _accumulator_locked(
            person=settlement.person, year=settlement.visit_date.year, scheme=settlement.scheme
        )
        settlement = (
            Settlement.objects.select_for_update()
            .select_related("institution", "person")
            .get(pk=settlement.pk)
        )
        if settlement.status != SettlementStatus.SETTLED:
            raise _refuse(
                SettlementErrorCode.ALREADY_REVERSED, _("This settlement is already reversed."), status=409
            )
        later = Settlement.objects.filter(
            person_id=settlement.person_id,
            scheme=settlement.scheme,
            visit_date__year=settlement.visit_date.year,
            status=SettlementStatus.SETTLED,
            settled_at__gt=settlement.settled_at,
        )
        if later.exists():
            raise _refuse(
                SettlementErrorCode.LATER_SETTLEMENT_EXISTS,
                _("This person has later settlements computed on top of this one: reverse them first."),
                status=409,
            )
        _apply_deltas(acc, settlement.visit_type, settlement.details["deltas"], -1, settlement.disease)
        if settlement.account_pay:  # the personal account gets back what it paid
            account = PersonalAccount.objects.select_for_update().get(person_id=settlement.person_id)
            account.balance += settlement.account_pay
            account.save(update_fields=["balance", "updated_at"])
        settlement.status = SettlementStatus.REVERSED
        settlement.reversed_at = timezone.now()
        settlement.reversed_by = operator
        settlement.reversal_reason = (reason or "")[:200]
        settlement.save(update_fields=["status", "reversed_at", "reversed_by", "reversal_reason"])
        audit_record(
            actor=operator,
            action="settlement.reverse",
            target=settlement,
            from_state=SettlementStatus.SETTLED,
            to_state=SettlementStatus.REVERSED,
            reason=settlement.reversal_reason,
            data={"deltas": settlement.details["deltas"]},
        )
        notification_create(
            person=settlement.person,
            event="settlement_reversed",
            context={
                "settlement_id": str(settlement.pk),
                "settlement_number": settlement.number,
                "institution_name": settlement.institution.name,
            },
        )
    return settlement


# --- Policies -----------------------------------------------------------------------------------------------


@transaction.atomic
def policy_save(*, policy: Policy, actor, changed: list[str]) -> Policy:
    """Save an area's settlement policy as an agency entered it (in admin), with an audit row."""
    created = policy.pk is None
    policy.save()
    audit_record(
        actor=actor,
        action="policy.create" if created else "policy.change",
        target=policy,
        data={"fields": sorted(changed)},
    )
    return policy


# --- Catalogue import ----------------------------------------------------------------------------------------

CATALOGUE_COLUMNS = ["code", "name", "category", "coverage_class", "first_share_rate", "unit"]
_CLASS_ALIASES = {
    "甲": CoverageClass.A,
    "乙": CoverageClass.B,
    "丙": CoverageClass.C,
    "a": CoverageClass.A,
    "b": CoverageClass.B,
    "c": CoverageClass.C,
}
_CATEGORY_ALIASES = {
    "药品": ItemCategory.DRUG,
    "诊疗项目": ItemCategory.SERVICE,
    "医疗服务": ItemCategory.SERVICE,
    "医用耗材": ItemCategory.CONSUMABLE,
    "耗材": ItemCategory.CONSUMABLE,
}


def _catalogue_row(line: int, row: dict[str, str]) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []

    def err(field: str, code: SettlementErrorCode, message: str) -> None:
        errors.append(RowError(line, field, code.value, message))

    code = (row.get("code") or "").strip()
    name = (row.get("name") or "").strip()
    category_raw = (row.get("category") or "").strip()
    category = _CATEGORY_ALIASES.get(category_raw, category_raw.lower())
    coverage_raw = (row.get("coverage_class") or "").strip()
    coverage = _CLASS_ALIASES.get(coverage_raw.lower(), coverage_raw)
    share_raw = (row.get("first_share_rate") or "").strip().rstrip("%")
    values = {
        "code": code,
        "name": name,
        "category": category,
        "coverage_class": coverage,
        "unit": (row.get("unit") or "").strip()[:20],
        "first_share_rate": None,
    }
    if not code or len(code) > 50:
        err(
            "code",
            SettlementErrorCode.INVALID_CODE,
            _("The national code is required (at most 50 characters)."),
        )
    if not name or len(name) > 200:
        err("name", SettlementErrorCode.REQUIRED, _("The name is required (at most 200 characters)."))
    if category not in ItemCategory.values:
        err(
            "category",
            SettlementErrorCode.INVALID_CATEGORY,
            _("The category must be drug, service or consumable."),
        )
    if coverage not in CoverageClass.values:
        err("coverage_class", SettlementErrorCode.INVALID_CLASS, _("The class must be A/B/C (甲/乙/丙)."))
    if share_raw:
        try:
            share = Decimal(share_raw)
            if (row.get("first_share_rate") or "").strip().endswith("%") or share > 1:
                share = share / 100
            if not (0 <= share <= 1):
                raise InvalidOperation
            values["first_share_rate"] = share.quantize(Decimal("0.0001"))
        except InvalidOperation:
            err(
                "first_share_rate",
                SettlementErrorCode.INVALID_RATE,
                _("The first share must be a fraction (0.10) or a percent."),
            )
        if coverage != CoverageClass.B and values["first_share_rate"]:
            err(
                "first_share_rate",
                SettlementErrorCode.FIRST_SHARE_NOT_CLASS_B,
                _("Only class B items have a first share."),
            )
    return values, errors


def catalogue_import(
    *, province: Region | str, data: str | bytes, dry_run: bool = False, actor=None
) -> ImportResult:
    """Create or update a province's catalogue items from CSV; all rows or none (ImportFailed lists bad rows)."""
    region = province if isinstance(province, Region) else Region.objects.filter(code=str(province)).first()
    if region is None or region.level != "province":
        raise ServiceError(
            SettlementErrorCode.INVALID_PROVINCE,
            _("Choose a province-level region."),
            fields={"province": [_("Not a province.")]},
        )
    parsed, result = csv_rows_validate(
        data=data, columns=["code", "name", "category", "coverage_class"], validate_row=_catalogue_row
    )

    with transaction.atomic():
        catalogue, _created = Catalogue.objects.get_or_create(province=region)
        existing = {
            i.code: i
            for i in CatalogueItem.objects.select_for_update().filter(
                catalogue=catalogue, code__in=[v["code"] for v in parsed]
            )
        }
        to_create, to_update = [], []
        for values in parsed:
            item = existing.get(values["code"])
            if item is None:
                to_create.append(CatalogueItem(catalogue=catalogue, active=True, **values))
                continue
            changed = any(getattr(item, k) != v for k, v in values.items()) or not item.active
            if changed:
                for key, value in values.items():
                    setattr(item, key, value)
                item.active = True
                to_update.append(item)
        result.created, result.updated = len(to_create), len(to_update)
        if dry_run:
            transaction.set_rollback(True)
            return result
        CatalogueItem.objects.bulk_create(to_create)
        CatalogueItem.objects.bulk_update(
            to_update,
            ["name", "category", "coverage_class", "first_share_rate", "unit", "active", "updated_at"],
        )
        if to_create or to_update:
            audit_record(
                actor=actor,
                action="catalogue.import",
                target=catalogue,
                data={"created": result.created, "updated": result.updated},
            )
    return result


def catalogue_export(*, queryset) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["province", *CATALOGUE_COLUMNS, "active"])
    for item in queryset.select_related("catalogue"):
        writer.writerow(
            [
                item.catalogue.province_id,
                item.code,
                item.name,
                item.category,
                item.coverage_class,
                "" if item.first_share_rate is None else item.first_share_rate,
                item.unit,
                int(item.active),
            ]
        )
    return out.getvalue()


# --- Clearing between provinces ------------------------------------------------------------------------------


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
    from .corrections import clearing_carry, clearing_net, clearing_pending

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


# --- Fund supervision ----------------------------------------------------------------------------------------

SUPERVISION_DEFAULTS = {
    "MULTI_CITY_HOURS": 2,
    "MAX_SETTLEMENTS_PER_PERSON_PER_DAY": 3,
    "INSTITUTION_VOLUME_FACTOR": 3,
    "INSTITUTION_VOLUME_MIN": 20,
    "INSTITUTION_TRAILING_DAYS": 30,
}


def supervision_setting(name: str):
    return getattr(settings, "SETTLEMENT_SUPERVISION", {}).get(name, SUPERVISION_DEFAULTS[name])


def _flag(
    *, kind: str, key: str, settlement: Settlement, person=None, institution=None, details: dict
) -> bool:
    """Raise a flag once per key; an existing open flag gets the latest details. True if newly raised."""
    flag, created = SupervisionFlag.objects.get_or_create(
        dedupe_key=key[:120],
        defaults={
            "kind": kind,
            "person": person,
            "institution": institution,
            "settlement": settlement,
            "details": details,
        },
    )
    if not created and flag.status == FlagStatus.OPEN and flag.details != details:
        flag.details = details
        flag.save(update_fields=["details"])
    return created


@deferrable
def supervision_check(*, settlement_id: int) -> list[str]:
    """Look at a committed settlement for patterns worth a reviewer's look; returns the kinds raised now.

    Runs after the settlement commits (from the deferred-work outbox) and never changes it: a flag alone
    blocks nothing. Running it again raises nothing new: each flag has its dedupe key.
    """
    settlement = (
        Settlement.objects.select_related("institution", "person", "code_event")
        .filter(pk=settlement_id)
        .first()
    )
    if settlement is None:
        return []
    raised = []
    if _check_multi_city(settlement):
        raised.append(FlagKind.MULTI_CITY.value)
    if _check_frequent(settlement):
        raised.append(FlagKind.FREQUENT.value)
    if _check_institution_volume(settlement):
        raised.append(FlagKind.INSTITUTION_VOLUME.value)
    return raised


def _check_multi_city(settlement: Settlement) -> bool:
    window = dt.timedelta(hours=supervision_setting("MULTI_CITY_HOURS"))
    since, until = settlement.settled_at - window, settlement.settled_at + window
    city = settlement.institution.region_id
    others = list(
        Settlement.objects.filter(
            person_id=settlement.person_id, settled_at__gte=since, settled_at__lte=until
        )
        .exclude(pk=settlement.pk)
        .exclude(institution__region_id=city)
        .values_list("number", "institution__code", "institution__region_id")
    )
    uses = []
    credential_id = settlement.code_event.credential_id if settlement.code_event_id else None
    try:
        from ecode.models import CodeEvent, CodeEventKind

        events = CodeEvent.objects.filter(
            kind=CodeEventKind.CONSUME, result="ok", created_at__gte=since, created_at__lte=until
        ).exclude(institution__region_id=city)
        events = (
            events.filter(credential_id=credential_id)
            if credential_id
            else events.filter(person_id=settlement.person_id)
        )
        uses = list(events.values_list("pk", "institution__code", "institution__region_id"))
    except ImportError:  # pragma: no cover - the e-code app is part of the project
        pass
    if not others and not uses:
        return False
    details = {
        "city": city,
        "hours": supervision_setting("MULTI_CITY_HOURS"),
        "settlements": [{"number": n, "institution": i, "city": c} for n, i, c in others],
        "uses": [{"event": e, "institution": i, "city": c} for e, i, c in uses],
    }
    return _flag(
        kind=FlagKind.MULTI_CITY,
        key=f"multi_city:{settlement.pk}",
        settlement=settlement,
        person=settlement.person,
        institution=settlement.institution,
        details=details,
    )


def _local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _check_frequent(settlement: Settlement) -> bool:
    day = timezone.localdate(settlement.settled_at)
    start, end = _local_day_bounds(day)
    count = Settlement.objects.filter(
        person_id=settlement.person_id, settled_at__gte=start, settled_at__lt=end
    ).count()
    limit = supervision_setting("MAX_SETTLEMENTS_PER_PERSON_PER_DAY")
    if count <= limit:
        return False
    return _flag(
        kind=FlagKind.FREQUENT,
        key=f"frequent:{settlement.person_id}:{day:%Y%m%d}",
        settlement=settlement,
        person=settlement.person,
        details={"date": day.isoformat(), "count": count, "limit": limit},
    )


def _check_institution_volume(settlement: Settlement) -> bool:
    day = timezone.localdate(settlement.settled_at)
    start, end = _local_day_bounds(day)
    trailing = supervision_setting("INSTITUTION_TRAILING_DAYS")
    counts = Settlement.objects.filter(institution_id=settlement.institution_id).aggregate(
        today=Count("pk", filter=Q(settled_at__gte=start, settled_at__lt=end)),
        before=Count(
            "pk", filter=Q(settled_at__gte=start - dt.timedelta(days=trailing), settled_at__lt=start)
        ),
    )
    today_count = counts["today"]
    average = Decimal(counts["before"]) / trailing
    factor = supervision_setting("INSTITUTION_VOLUME_FACTOR")
    if today_count < supervision_setting("INSTITUTION_VOLUME_MIN") or today_count <= factor * average:
        return False
    return _flag(
        kind=FlagKind.INSTITUTION_VOLUME,
        key=f"volume:{settlement.institution_id}:{day:%Y%m%d}",
        settlement=settlement,
        institution=settlement.institution,
        details={
            "date": day.isoformat(),
            "count": today_count,
            "trailing_average": str(average.quantize(Decimal("0.01"))),
            "factor": factor,
            "trailing_days": trailing,
        },
    )


@transaction.atomic(durable=True)
def flag_review(*, flag: SupervisionFlag, actor, status: str, note: str = "") -> SupervisionFlag:
    """Dismiss or confirm a supervision flag, with an audit row."""
    if status not in (FlagStatus.DISMISSED, FlagStatus.CONFIRMED):
        raise ServiceError(SettlementErrorCode.INVALID_STATUS, _("A flag is either dismissed or confirmed."))
    flag = SupervisionFlag.objects.select_for_update().get(pk=flag.pk)
    before = flag.status
    flag.status = status
    flag.reviewed_at = timezone.now()
    flag.reviewed_by = actor
    flag.review_note = (note or "")[:200]
    flag.save(update_fields=["status", "reviewed_at", "reviewed_by", "review_note"])
    audit_record(
        actor=actor,
        action="supervision.review",
        target=flag,
        from_state=before,
        to_state=status,
        reason=flag.review_note,
    )
    return flag


def clearing_month_totals(*, month: dt.date) -> dict[str, Decimal]:
    """The sums of the month's cleared settlements straight from the settlements (for reconciliation)."""
    start, end = _month_bounds(month_start(month))
    agg = (
        Settlement.objects.filter(status=SettlementStatus.SETTLED, settled_at__gte=start, settled_at__lt=end)
        .exclude(insured_province=F("treatment_province"))
        .aggregate(**{name: Sum(name) for name in _SUMMED})
    )
    return {k: v or Decimal("0.00") for k, v in agg.items()}
