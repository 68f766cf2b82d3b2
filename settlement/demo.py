"""Demo rules for settlement: the treatment provinces' catalogues and the insured areas' benefit policies, plus
one inpatient discharge settled for the demo retiree (when the filing demo gave them a filing in force).

The figures are plausible, not any area's official numbers. Baoding's resident policy is the one of the 91.4 %
worked example (tests/settlement/test_worked_examples.py). Idempotent: existing rows are left as they are
(an agency may have edited them).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal as D
from pathlib import Path

from django.db import transaction
from django.utils import timezone, translation

from accounts.models import DiseaseCertification, PersonIdentity, User, certified_diseases_on, identities_on
from core.errors import ServiceError
from reference.choices import Scheme
from reference.models import Institution, Region

from .models import (
    AssistanceRule,
    Catalogue,
    CatalogueItem,
    CriticalIllnessTier,
    DiseaseLimit,
    PersonalAccount,
    Policy,
    PolicyRate,
    Settlement,
)
from .services import ItemInput, catalogue_import, settlement_create

logger = logging.getLogger(__name__)

DEMO_CATALOGUE_CSV = Path(__file__).resolve().parent / "data" / "demo_catalogue.csv"
# The demo destinations' provinces and those of the other demo institutions.
CATALOGUE_PROVINCES = (
    "110000",
    "310000",
    "330000",
    "440000",
    "460000",
    "130000",
    "230000",
    "320000",
    "420000",
    "510000",
)
INSURED_AREAS = {
    "230100": "哈尔滨市",
    "510100": "成都市",
    "130100": "石家庄市",
    "130600": "保定市",
    "440300": "深圳市",
    "330100": "杭州市",
}

# (visit type, level) → (deductible, ratio, retirees' ratio)
EMPLOYEE_RATES = {
    ("inpatient", 3): ("1000.00", "0.85", "0.90"),
    ("inpatient", 2): ("600.00", "0.88", "0.93"),
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
RESIDENT_RATES = {
    ("inpatient", 3): ("1300.00", "0.55", None),
    ("inpatient", 2): ("800.00", "0.65", None),
    ("inpatient", 1): ("300.00", "0.75", None),
    ("inpatient", 0): ("300.00", "0.75", None),
    ("general_outpatient", 3): ("100.00", "0.40", None),
    ("general_outpatient", 2): ("100.00", "0.45", None),
    ("general_outpatient", 1): ("50.00", "0.50", None),
    ("general_outpatient", 0): ("50.00", "0.50", None),
    ("chronic_outpatient", 3): ("200.00", "0.60", None),
    ("chronic_outpatient", 2): ("200.00", "0.65", None),
    ("chronic_outpatient", 1): ("200.00", "0.70", None),
    ("chronic_outpatient", 0): ("200.00", "0.70", None),
}
SCHEMES = {
    Scheme.EMPLOYEE: {
        "label": "职工医保",
        "rates": EMPLOYEE_RATES,
        "fields": {
            "annual_cap": D("400000.00"),
            "critical_threshold": D("15000.00"),
            "critical_cap": D("400000.00"),
        },
    },
    Scheme.RESIDENT: {
        "label": "城乡居民医保",
        "rates": RESIDENT_RATES,
        "fields": {
            "annual_cap": D("250000.00"),
            "critical_threshold": D("12000.00"),
            "critical_cap": D("400000.00"),
        },
    },
}
CUTS = {"temporary_cut": D("0.10"), "referral_cut": D("0.05"), "emergency_cut": D("0.05")}
TIERS = (("0", "0.60"), ("100000", "0.70"))
ASSISTANCE = {
    "low_income": ("0.90", "60000.00"),
    "extremely_poor": ("1.00", "100000.00"),
    "marginal": ("0.70", "30000.00"),
}

# The demo retiree's discharge (Sanya): bed, nursing, CT, drugs, a class B drug and a class C item.
RETIREE_BILL = [
    ("250203001", "10", "60.00"),
    ("220000001", "10", "26.00"),
    ("210300001", "2", "220.00"),
    ("XJ01DCC038B001", "30", "18.50"),
    ("XB05AAR044B002", "6", "450.00"),
    ("331003012", "1", "2800.00"),
    ("250203099", "5", "100.00"),
]
DEMO_REQUEST_NO = "DEMO-DISCHARGE-1"


# Yearly basic-fund limits per outpatient chronic/special disease (demo figures).
DISEASE_LIMITS = {
    "hypertension": D("2000.00"),
    "diabetes": D("3000.00"),
    "tumour_therapy": D("100000.00"),
    "uraemia_dialysis": D("80000.00"),
    "anti_rejection": D("60000.00"),
}
# The demo low-income resident is certified for diabetes by a hospital of her insured area.
DEMO_CERTIFICATIONS = {"resident": "diabetes"}

# The demo retired employee's personal account opening balance (the balance shows on the "me" page).
DEMO_ACCOUNTS = {"retiree": D("3000.00")}

# The demo people in need and the identity their insured area confirmed (国办发〔2021〕42号 terms apply).
DEMO_IDENTITIES = {
    "referral": ("extremely_poor", "保定市民政局（演示）"),
    "resident": ("low_income", "成都市民政局（演示）"),
}


def seed(demo) -> None:
    with transaction.atomic():
        _seed_catalogues()
        _seed_policies()
        _seed_identities(demo)
    _seed_settlement(demo)
    for entry in demo.people:  # for the printed accounts: who already has a receipt to read
        person = demo.persons_by_group.get(entry["group"])
        entry["settlements"] = Settlement.objects.filter(person=person).count() if person else 0
        entry["benefits"] = _benefit_words(person) if person else []


def _benefit_words(person) -> list[str]:
    """What the benefit rules know of a demo person (docs/benefits.md), for the printed accounts (in English,
    as the rest of them)."""
    with translation.override("en"):
        return _benefit_words_now(person)


def _benefit_words_now(person) -> list[str]:
    today = timezone.localdate()
    words = [
        f"identity: {PersonIdentity(kind=kind).get_kind_display()}"
        for kind in sorted(identities_on(person, today))
    ]
    words += [
        f"certified: {DiseaseCertification(disease=disease).get_disease_display()}"
        for disease in sorted(certified_diseases_on(person, today))
    ]
    account = PersonalAccount.objects.filter(person=person).first()
    if account is not None:
        words.append(f"personal account: ¥{account.balance}")
    return words


def _seed_catalogues() -> None:
    data = DEMO_CATALOGUE_CSV.read_bytes()
    for province in CATALOGUE_PROVINCES:
        if not Region.objects.filter(code=province).exists():
            continue
        catalogue, _ = Catalogue.objects.get_or_create(province_id=province)
        if not CatalogueItem.objects.filter(catalogue=catalogue).exists():
            catalogue_import(province=province, data=data)


def _seed_policies() -> None:
    year = timezone.localdate().year
    for region_code, city in INSURED_AREAS.items():
        if not Region.objects.filter(code=region_code).exists():
            continue
        for scheme, spec in SCHEMES.items():
            policy, created = Policy.objects.get_or_create(
                region_id=region_code,
                scheme=scheme,
                year=year,
                effective_from=dt.date(year, 1, 1),
                defaults={"name": f"{city}{spec['label']} {year}", **spec["fields"], **CUTS},
            )
            if not created:
                continue
            PolicyRate.objects.bulk_create(
                [
                    PolicyRate(
                        policy=policy,
                        visit_type=visit_type,
                        institution_level=level,
                        deductible=D(deductible),
                        fund_ratio=D(ratio),
                        retiree_fund_ratio=D(retiree) if retiree else None,
                    )
                    for (visit_type, level), (deductible, ratio, retiree) in spec["rates"].items()
                ]
            )
            CriticalIllnessTier.objects.bulk_create(
                [CriticalIllnessTier(policy=policy, lower=D(lower), ratio=D(ratio)) for lower, ratio in TIERS]
            )
            DiseaseLimit.objects.bulk_create(
                [
                    DiseaseLimit(policy=policy, disease=d, annual_limit=limit)
                    for d, limit in DISEASE_LIMITS.items()
                ]
            )
            AssistanceRule.objects.bulk_create(
                [
                    AssistanceRule(policy=policy, category=category, ratio=D(ratio), annual_cap=D(cap))
                    for category, (ratio, cap) in ASSISTANCE.items()
                ]
            )


def _seed_identities(demo) -> None:
    year_start = dt.date(timezone.localdate().year, 1, 1)
    for group, (kind, source) in DEMO_IDENTITIES.items():
        person = demo.persons_by_group.get(group)
        if person is not None and not PersonIdentity.objects.filter(person=person, kind=kind).exists():
            PersonIdentity.objects.create(person=person, kind=kind, valid_from=year_start, source=source)
    for group, balance in DEMO_ACCOUNTS.items():
        person = demo.persons_by_group.get(group)
        if person is not None:
            PersonalAccount.objects.get_or_create(person=person, defaults={"balance": balance})
    for group, disease in DEMO_CERTIFICATIONS.items():
        person = demo.persons_by_group.get(group)
        if person is None or DiseaseCertification.objects.filter(person=person, disease=disease).exists():
            continue
        institution = (
            Institution.objects.filter(region__code__startswith=person.insured_region_id[:4])
            .order_by("code")
            .first()
        )
        DiseaseCertification.objects.create(
            person=person, disease=disease, valid_from=year_start, institution=institution
        )


def _seed_settlement(demo) -> None:
    """Settle the demo retiree's discharge at the destination's demo hospital, once, if a filing is in force."""
    person = demo.persons_by_group.get("retiree")
    destination = demo.destinations.get("retiree")
    if person is None or destination is None:
        return
    counters = [c for c in demo.counters if c["institution_code"].startswith("H" + destination.code[:4])]
    operator = (
        User.objects.filter(username__in=[c["username"] for c in counters])
        .select_related("institution")
        .first()
    )
    if (
        operator is None
        or Settlement.objects.filter(institution=operator.institution, request_no=DEMO_REQUEST_NO).exists()
    ):
        return
    try:
        from filing.selectors import filing_in_force
    except ImportError:  # pragma: no cover - the filing app is part of the project
        return
    filing = filing_in_force(person=person, institution=operator.institution)
    if filing is None:
        return
    today = timezone.localdate()
    try:
        settlement_create(
            operator=operator,
            visit_type="inpatient",
            filing_id=filing.pk,
            id_number=person.id_number,
            admission_date=today - dt.timedelta(days=10),
            discharge_date=today,
            request_no=DEMO_REQUEST_NO,
            items=[ItemInput(code=code, quantity=D(q), unit_price=D(p)) for code, q, p in RETIREE_BILL],
        )
    except ServiceError as exc:
        logger.warning("demo settlement skipped: %s", exc.code)
