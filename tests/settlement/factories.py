"""Settlement test helpers: catalogue items, policies with every rate, approved filings and consumed e-codes made
through the owning apps' services, and bills."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from ecode.models import Credential
from ecode.services import credential_activate, ecode_consume, signing_key_ensure, token_issue
from filing.dates import today
from filing.services import filing_approve, filing_create_draft, filing_submit
from reference.choices import Scheme
from settlement.models import (
    AssistanceRule,
    Catalogue,
    CatalogueItem,
    CriticalIllnessTier,
    Policy,
    PolicyRate,
)
from settlement.services import ItemInput
from tests.factories import InstitutionFactory, ReviewerFactory, counter_with_key

INSURED = "510100"  # Chengdu, Sichuan
DESTINATION = "110000"  # Beijing

# (visit type, level) → (deductible, ratio, retirees' ratio)
RATES = {
    ("inpatient", 3): ("1000.00", "0.80", "0.85"),
    ("inpatient", 2): ("600.00", "0.85", "0.90"),
    ("inpatient", 1): ("300.00", "0.90", "0.95"),
    ("inpatient", 0): ("300.00", "0.90", "0.95"),
    ("general_outpatient", 3): ("200.00", "0.50", "0.60"),
    ("general_outpatient", 2): ("200.00", "0.55", "0.65"),
    ("general_outpatient", 1): ("100.00", "0.60", "0.70"),
    ("general_outpatient", 0): ("100.00", "0.60", "0.70"),
    ("chronic_outpatient", 3): ("300.00", "0.75", "0.80"),
    ("chronic_outpatient", 2): ("300.00", "0.80", "0.85"),
    ("chronic_outpatient", 1): ("300.00", "0.85", "0.90"),
    ("chronic_outpatient", 0): ("300.00", "0.85", "0.90"),
}


def catalogue_item(
    code: str,
    name: str,
    coverage_class: str,
    *,
    province: str = DESTINATION,
    category: str = "drug",
    first_share: str | None = None,
    default_share: str = "0.10",
    **fields,
):
    catalogue, _ = Catalogue.objects.get_or_create(
        province_id=province, defaults={"class_b_first_share": D(default_share)}
    )
    return CatalogueItem.objects.create(
        catalogue=catalogue,
        code=code,
        name=name,
        category=category,
        coverage_class=coverage_class,
        first_share_rate=D(first_share) if first_share is not None else None,
        **fields,
    )


def policy(
    *,
    region_code: str = INSURED,
    scheme: str = Scheme.EMPLOYEE,
    year: int | None = None,
    effective_from: dt.date | None = None,
    rates: dict | None = None,
    tiers=(("0", "0.60"), ("100000", "0.70")),
    assistance: dict | None = None,
    **fields,
) -> Policy:
    """A policy with a rate for every visit type and level (override with `rates`)."""
    year = year or today().year
    values = {
        "annual_cap": D("300000.00"),
        "critical_threshold": D("15000.00"),
        "critical_cap": D("400000.00"),
        "temporary_cut": D("0.10"),
        **fields,
    }
    obj = Policy.objects.create(
        region_id=region_code,
        scheme=scheme,
        year=year,
        effective_from=effective_from or dt.date(year, 1, 1),
        **values,
    )
    for (visit_type, level), (deductible, ratio, retiree) in {**RATES, **(rates or {})}.items():
        PolicyRate.objects.create(
            policy=obj,
            visit_type=visit_type,
            institution_level=level,
            deductible=D(deductible),
            fund_ratio=D(ratio),
            retiree_fund_ratio=D(retiree) if retiree else None,
        )
    for lower, ratio in tiers:
        CriticalIllnessTier.objects.create(policy=obj, lower=D(lower), ratio=D(ratio))
    for category, (ratio, cap, *more) in (
        {"low_income": ("0.70", "50000.00"), "extremely_poor": ("1.00", "100000.00")}
        if assistance is None
        else assistance
    ).items():
        # optional: (…, deductible, outpatient ratio, outpatient deductible, outpatient cap)
        defaults = ["0", None, "0", None]
        deductible, out_ratio, out_deductible, out_cap = list(more) + defaults[len(more) :]
        AssistanceRule.objects.create(
            policy=obj,
            category=category,
            ratio=D(ratio),
            annual_cap=D(cap),
            deductible=D(deductible),
            outpatient_ratio=D(out_ratio) if out_ratio is not None else None,
            outpatient_deductible=D(out_deductible),
            outpatient_cap=D(out_cap) if out_cap is not None else None,
        )
    return obj


def hospital(region_code: str = DESTINATION, area: str = "110105", **kwargs):
    return InstitutionFactory(region_code=region_code, area=area, **kwargs)


def counter(institution=None):
    """A counter operator of `institution` (a level-3 Beijing hospital by default) and its clear key."""
    return counter_with_key(institution=institution or hospital())


def filed(person, *, group: str = "resident", destination: str = DESTINATION, start_date=None):
    """An approved filing made through the filing services (commitment, instant approval, else a reviewer)."""
    commitment = group != "referral"  # a referral needs the referral document, not a commitment
    filing = filing_create_draft(
        person=person,
        actor=person.user,
        group=group,
        destination=destination,
        start_date=start_date or today(),
        commitment=commitment,
    )
    if not commitment:
        from filing.choices import DocumentKind
        from tests.filing.factories import with_document

        with_document(filing, DocumentKind.ID_DOCUMENT)
        with_document(filing, DocumentKind.REFERRAL_LETTER)
    filing = filing_submit(filing=filing, actor=person.user)
    if filing.status == "submitted":
        filing = filing_approve(filing=filing, actor=ReviewerFactory(region_code=person.insured_region_id))
    assert filing.status == "approved", filing.status
    return filing


def consumed_use(person, operator, *, emergency: bool = False) -> int:
    """The use id of the person's e-code scanned and used at the operator's counter (as an emergency: also
    without a filing in force there)."""
    signing_key_ensure()
    credential = Credential.objects.filter(person=person).first() or credential_activate(
        person=person, actor=None
    )
    token = token_issue(credential=credential).token
    result = ecode_consume(token=token, operator=operator, emergency=emergency)
    assert result.use_id, result.code
    return result.use_id


def items(*rows) -> list[ItemInput]:
    """Bill lines from (code, quantity, unit price) tuples."""
    return [ItemInput(code=code, quantity=D(str(q)), unit_price=D(str(p))) for code, q, p in rows]


def api_items(*rows) -> list[dict]:
    return [{"code": code, "quantity": str(q), "unit_price": str(p)} for code, q, p in rows]


def identity(person, kind: str, *, valid_from=None, valid_to=None, source: str = "保定市民政局"):
    """An identity of a person in need as the insured area confirmed it (by default valid all this year)."""
    from accounts.models import PersonIdentity

    return PersonIdentity.objects.create(
        person=person,
        kind=kind,
        valid_from=valid_from or dt.date(today().year, 1, 1),
        valid_to=valid_to,
        source=source,
    )
