"""Settlement reads: the rules in force as calculator inputs, settlements a user may see, clearing balances."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Case, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.scopes import scope
from core.errors import NotFound

from . import calculator
from .choices import CoverageClass, TemporaryTerms
from .models import (
    Accumulator,
    CatalogueItem,
    ClearingStatement,
    PersonalAccount,
    Policy,
    Prepayment,
    Settlement,
    SettlementLine,
)

ZERO = Decimal("0.00")


# --- Rules ---


def _policies_in_force(*, region_code: str, scheme: str, on_date: dt.date) -> QuerySet[Policy]:
    # The version in force first: the latest effective date not after `on_date`, in that year.
    return Policy.objects.filter(
        region_id=region_code, scheme=scheme, year=on_date.year, effective_from__lte=on_date
    ).order_by("-effective_from")


def policy_in_force(*, region_code: str, scheme: str, on_date: dt.date) -> Policy | None:
    """The insured place's policy version in force on `on_date` (the latest effective date not after it, in
    that year), with its rates, tiers and assistance rules."""
    return (
        _policies_in_force(region_code=region_code, scheme=scheme, on_date=on_date)
        .prefetch_related("rates", "critical_tiers", "assistance_rules", "disease_limits")
        .first()
    )


def policy_terms(policy: Policy) -> calculator.PolicyTerms:
    """A policy as the calculator's plain terms (uses prefetched rows when present)."""
    return calculator.PolicyTerms(
        rates={
            (rate.visit_type, rate.institution_level): calculator.Rate(
                deductible=rate.deductible,
                fund_ratio=rate.fund_ratio,
                retiree_fund_ratio=rate.retiree_fund_ratio,
                retiree_deductible=rate.retiree_deductible,
            )
            for rate in policy.rates.all()
        },
        annual_cap=policy.annual_cap,
        deductible_per_admission=policy.deductible_per_admission,
        repeat_admission_factor=policy.repeat_admission_factor,
        group_cuts={
            "temporary": policy.temporary_cut,
            "referral": policy.referral_cut,
            "emergency": policy.emergency_cut,
        },
        group_terms=policy.temporary_terms,
        critical_threshold=policy.critical_threshold,
        critical_tiers=tuple(
            calculator.Tier(lower=t.lower, ratio=t.ratio) for t in policy.critical_tiers.all()
        ),
        critical_cap=policy.critical_cap,
        large_amount_ratio=policy.large_amount_ratio,
        large_amount_cap=policy.large_amount_cap,
        general_outpatient_cap=policy.general_outpatient_cap,
        general_outpatient_counts_to_critical=policy.general_outpatient_counts_to_critical,
        disease_limits={row.disease: row.annual_limit for row in policy.disease_limits.all()},
        assistance={
            rule.category: calculator.AssistanceTerms(
                ratio=rule.ratio,
                annual_cap=rule.annual_cap,
                deductible=rule.deductible,
                outpatient_ratio=rule.outpatient_ratio,
                outpatient_deductible=rule.outpatient_deductible,
                outpatient_cap=rule.outpatient_cap,
            )
            for rule in policy.assistance_rules.all()
        },
        preferential=calculator.PreferentialTerms(
            identities=frozenset(policy.preferential_identities),
            threshold_factor=policy.preferential_threshold_factor,
            ratio_bonus=policy.preferential_ratio_bonus,
            uncapped=policy.preferential_uncapped,
        )
        if policy.preferential_identities
        else None,
    )


def catalogue_entries(*, province: str, codes: Iterable[str]) -> dict[str, calculator.CatalogueEntry]:
    """The active catalogue items of a treatment province among `codes`, keyed by code."""
    items = CatalogueItem.objects.filter(catalogue__province_id=province, code__in=set(codes), active=True)
    return {
        item.code: calculator.CatalogueEntry(
            code=item.code,
            name=item.name,
            category=item.category,
            coverage_class=item.coverage_class,
            first_share_rate=item.effective_first_share if item.coverage_class == CoverageClass.B else ZERO,
            max_price=item.max_price,
            restriction=item.restriction,
            min_level=item.min_level,
        )
        for item in items.select_related("catalogue")
    }


def catalogue_search(*, province: str, query: str, institution=None, limit: int = 20) -> list[CatalogueItem]:
    """Active items of a treatment province's catalogue whose national code starts with `query` or whose name
    contains it, codes first; each with `last_price`, the unit price `institution` last billed for it (or None).
    """
    query = (query or "").strip()
    if not query:
        return []
    items = CatalogueItem.objects.filter(catalogue__province_id=province, active=True).filter(
        Q(code__istartswith=query) | Q(name__icontains=query)
    )
    if institution is not None:
        last = SettlementLine.objects.filter(
            settlement__institution=institution, code=OuterRef("code")
        ).order_by("-settlement__settled_at", "-pk")
        items = items.annotate(last_price=Subquery(last.values("unit_price")[:1]))
    # A code typed in full or in part comes before names that merely contain the text.
    by_code = Case(When(code__istartswith=query, then=Value(0)), default=Value(1))
    found = list(items.select_related("catalogue").order_by(by_code, "code")[:limit])
    for item in found:
        item.last_price = getattr(item, "last_price", None)
    return found


def accumulator_for(*, person, year: int, scheme: str) -> Accumulator | None:
    return Accumulator.objects.filter(person=person, year=year, scheme=scheme).first()


# --- Settlements ---


def _with_details(qs: QuerySet[Settlement]) -> QuerySet[Settlement]:
    return qs.select_related("institution__region", "person", "insured_region").prefetch_related(
        Prefetch("lines", queryset=SettlementLine.objects.order_by("line_no"))
    )


def settlements_visible_to(*, user) -> QuerySet[Settlement]:
    """A person sees their own settlements; a counter operator its institution's; nobody else any (here)."""
    qs = Settlement.objects.all()
    if getattr(user, "role", None) == Role.PERSON and hasattr(user, "person"):
        return qs.filter(person=user.person)
    if getattr(user, "role", None) == Role.COUNTER and user.institution_id:
        return qs.filter(institution_id=user.institution_id)
    return qs.none()


def settlements_list(*, user) -> QuerySet[Settlement]:
    return _with_details(settlements_visible_to(user=user)).order_by("-settled_at", "-id")


def settlement_get(*, user, settlement_id: int) -> Settlement:
    """One settlement the user may see; any other is reported as not found."""
    settlement = _with_details(settlements_visible_to(user=user)).filter(pk=settlement_id).first()
    if settlement is None:
        raise NotFound(_("Settlement not found."))
    return settlement


def settlements_for_reviewer(*, user) -> QuerySet[Settlement]:
    """Settlements an admin user may see: a reviewer those of their insured pooling area, a superuser all."""
    return scope(Settlement.objects.all(), user, "insured_region_id")


# --- Clearing ---


def clearing_balances(*, month: dt.date | None = None) -> list[dict]:
    """For each direction between two provinces: funds cleared on statements, prepaid, and the balance due.

    A positive balance is still owed by the insured (paying) province; a negative one is to be returned to it.
    """
    statements = ClearingStatement.objects.all()
    prepayments = Prepayment.objects.all()
    if month is not None:
        statements = statements.filter(month=month)
        prepayments = prepayments.filter(month=month)
    rows: dict[tuple[str, str], dict] = defaultdict(lambda: {"cleared": ZERO, "prepaid": ZERO})
    # What the insured province owes: the funds and the personal accounts' payments.
    for row in statements.values("insured_province_id", "treatment_province_id").annotate(
        s=Sum("fund_total"), a=Sum("account_pay")
    ):
        cleared = (row["s"] or ZERO) + (row["a"] or ZERO)
        rows[(row["insured_province_id"], row["treatment_province_id"])]["cleared"] += cleared
    for row in prepayments.values("payer_province_id", "receiver_province_id").annotate(s=Sum("amount")):
        rows[(row["payer_province_id"], row["receiver_province_id"])]["prepaid"] += row["s"] or ZERO
    return [
        {
            "payer": payer,
            "receiver": receiver,
            "cleared": v["cleared"],
            "prepaid": v["prepaid"],
            "balance": v["cleared"] - v["prepaid"],
        }
        for (payer, receiver), v in sorted(rows.items())
    ]


def prepaid_for(*, statement: ClearingStatement) -> Decimal:
    """What the insured province prepaid the treatment province for the statement's month."""
    return (
        Prepayment.objects.filter(
            month=statement.month,
            payer_province_id=statement.insured_province_id,
            receiver_province_id=statement.treatment_province_id,
        ).aggregate(s=Sum("amount"))["s"]
        or ZERO
    )


def owed_for_direction(*, statement: ClearingStatement) -> Decimal:
    """What the insured province owes the treatment province for the statement's month, all schemes: the
    funds and the personal accounts' payments of every statement of that direction and month."""
    sums = ClearingStatement.objects.filter(
        month=statement.month,
        insured_province_id=statement.insured_province_id,
        treatment_province_id=statement.treatment_province_id,
    ).aggregate(f=Sum("fund_total"), a=Sum("account_pay"))
    return (sums["f"] or ZERO) + (sums["a"] or ZERO)


def group_ratio_cut_points(*, region_code: str, scheme: str, group: str, on_date: dt.date) -> int:
    """How many percentage points the insured place's policy cuts the fund ratio for a filing group (0 when
    no policy is in force). The settlement policy is the one source of these cuts; filing shows them."""
    policy = (
        _policies_in_force(region_code=region_code, scheme=scheme, on_date=on_date)
        .only("temporary_terms", "temporary_cut", "referral_cut", "emergency_cut")
        .first()
    )
    if policy is None or policy.temporary_terms != TemporaryTerms.CUT:
        return 0
    cut = {
        "temporary": policy.temporary_cut,
        "referral": policy.referral_cut,
        "emergency": policy.emergency_cut,
    }
    return int((cut.get(group) or 0) * 100)


def personal_account_balance(*, person) -> Decimal | None:
    """The employee's personal account balance, or None when the person has no account."""
    return PersonalAccount.objects.filter(person=person).values_list("balance", flat=True).first()


def settlement_totals(
    *,
    institution,
    start: dt.date,
    end: dt.date,
    scheme: str | None = None,
    insured_region: str | None = None,
    inpatient: bool | None = None,
) -> dict:
    """An institution's settlements in force (not reversed) settled from `start` to `end` (Beijing days, both
    included), from every channel: their count, total, fund total (every fund) and what people paid, of it from
    their personal accounts."""
    tz = timezone.get_default_timezone()
    qs = Settlement.objects.filter(
        institution=institution,
        status="settled",
        settled_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        settled_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )
    if scheme:
        qs = qs.filter(scheme=scheme)
    if insured_region:
        qs = qs.filter(insured_region_id=insured_region)
    if inpatient is not None:
        qs = qs.filter(visit_type="inpatient") if inpatient else qs.exclude(visit_type="inpatient")
    sums = qs.aggregate(
        total=Sum("total"),
        basic=Sum("basic_fund"),
        large_amount=Sum("large_amount_fund"),
        critical=Sum("critical_fund"),
        assistance=Sum("assistance_fund"),
        person=Sum("person_pays"),
        account=Sum("account_pay"),
    )
    value = {k: v or ZERO for k, v in sums.items()}
    return {
        "count": qs.count(),
        "total": value["total"],
        "fund_total": value["basic"] + value["large_amount"] + value["critical"] + value["assistance"],
        "person_pays": value["person"],
        "account_pay": value["account"],
    }
