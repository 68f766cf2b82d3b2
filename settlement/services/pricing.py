"""How a checked bill splits between the funds and the person: the preview the counter shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from accounts.models import identities_on
from core.errors import refusal as _refuse
from reference.selectors import province_code

from .. import calculator
from ..choices import VisitType
from ..errors import SettlementErrorCode
from ..models import (
    Accumulator,
    PersonalAccount,
    Policy,
    Settlement,
)
from ..selectors import catalogue_entries, policy_in_force, policy_terms
from .accumulators import _account_locked, _accumulator_locked, _accumulator_read, _ytd
from .bill import ItemInput, _bill_checked, _check_disease, _covering_filing, _identify

if TYPE_CHECKING:
    from accounts.models import InsuredPerson
    from ecode.models import CodeEvent
    from filing.models import Filing
    from reference.models import Institution

    from ..models import Policy


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
