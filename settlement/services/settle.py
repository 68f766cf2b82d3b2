"""Settling a bill and reversing a settlement, each once, with the year's totals moved and an audit row."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import asdict

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.dates import today
from core.deferred import deferred_create
from core.errors import NotFound
from core.errors import refusal as _refuse
from core.integrity import violated_constraint
from notifications.services import notification_create
from reference.selectors import province_code

from .. import calculator
from ..choices import SettlementStatus
from ..errors import SettlementErrorCode
from ..models import (
    Accumulator,
    PersonalAccount,
    Settlement,
    SettlementLine,
)
from .accumulators import _accumulator_locked, _apply_deltas, _deltas
from .bill import ItemInput, _bill_checked
from .pricing import SettlementPreview, _priced
from .supervision import supervision_check

logger = logging.getLogger(__name__)


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


def _settlement_number() -> str:
    return f"JS{today():%Y%m%d}{secrets.randbelow(10**12):012d}"


def _existing_by_request_no(institution, request_no: str) -> Settlement | None:
    if not request_no:
        return None
    return Settlement.objects.filter(institution=institution, request_no=request_no).first()


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
