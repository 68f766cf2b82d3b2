"""Filing reads: the person's filings, the rules that apply, and whether a filing is in force at a counter."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import PersonStatus
from accounts.scopes import scope
from core.errors import NotFound, ServiceError
from reference.choices import RegionLevel
from reference.models import Region
from reference.selectors import institution_search, same_province

from .choices import (
    DocumentKind,
    FilingGroup,
    FilingStatus,
)

# The in-force rule lives in .coverage; these two stay readable here, where callers have always found them.
from .coverage import filing_coverage as filing_coverage
from .coverage import filing_in_force as filing_in_force
from .errors import FilingErrorCode
from .models import Filing, FilingDocument, FilingInstitution, FilingPolicy, GroupRule
from .policy import ratio_cut_points_for

PREVIEW_INSTITUTIONS = 20


# --- Policies ---


def filing_policy_for(*, region: Region | str) -> FilingPolicy:
    """The policy of an insured pooling area, or the default policy when it has none."""
    code = region.pk if isinstance(region, Region) else region
    policies = list(
        FilingPolicy.objects.filter(Q(region_id=code) | Q(region__isnull=True)).prefetch_related("rules")
    )
    own = next((p for p in policies if p.region_id == code), None)
    if own is not None:
        return own
    default = next((p for p in policies if p.region_id is None), None)
    if default is None:  # migration 0003 creates it (filing.policy.filing_policy_default_ensure restores it)
        raise ImproperlyConfigured(
            "The default filing policy is missing: run manage.py seed_demo or migrate."
        )
    return default


def group_rule_of(*, policy: FilingPolicy, group: str) -> GroupRule | None:
    """The policy's rule for a group (None: the group is not accepted). Uses prefetched rules when present."""
    return next((rule for rule in policy.rules.all() if rule.group == group), None)


# --- The person's filings ---


def _with_details(qs: QuerySet[Filing]) -> QuerySet[Filing]:
    return qs.select_related("destination__parent", "insured_region__parent").prefetch_related(
        Prefetch("picks", queryset=FilingInstitution.objects.select_related("institution__region")),
        Prefetch("documents", queryset=FilingDocument.objects.order_by("created_at", "id")),
    )


def filings_for_person(*, person) -> QuerySet[Filing]:
    """The person's filings, newest first, with what a list shows (a constant number of queries)."""
    return _with_details(Filing.objects.filter(person=person)).order_by("-created_at", "-id")


def filing_get_for_person(*, person, filing_id: int) -> Filing:
    """One of the person's own filings; another person's filing is reported as not found."""
    filing = filings_for_person(person=person).filter(pk=filing_id).first()
    if filing is None:
        raise NotFound(_("Filing not found."))
    return filing


def document_get_for_person(*, person, filing_id: int, document_id: int) -> FilingDocument:
    document = (
        FilingDocument.objects.select_related("filing")
        .filter(pk=document_id, filing_id=filing_id, filing__person=person)
        .first()
    )
    if document is None:
        raise NotFound(_("Document not found."))
    return document


def filings_for_reviewer(*, user) -> QuerySet[Filing]:
    """Filings a staff user may see: a reviewer their own pooling area's, a superuser all, others none."""
    return scope(Filing.objects.all(), user, "insured_region_id")


# --- Eligibility and rules before filing ---


def destination_problem(*, person, destination: Region) -> tuple[FilingErrorCode, str] | None:
    """Why a region cannot be this person's destination, or None."""
    allowed = destination.level == RegionLevel.PROVINCE or destination.is_pooling_area
    if not allowed:
        return FilingErrorCode.DESTINATION_NOT_ALLOWED, _(
            "Choose a prefecture-level city, a municipality or a whole province."
        )
    if same_province(destination.code, person.insured_region_id):
        return FilingErrorCode.DESTINATION_IN_INSURED_PROVINCE, _(
            "Cross-provincial filing is for destinations outside your insured province."
        )
    return None


def eligibility_problems(
    *, person, group: str, destination: Region, policy: FilingPolicy, rule: GroupRule | None
) -> list[tuple[FilingErrorCode, str]]:
    """Every reason the person cannot file for this group and destination (empty: eligible)."""
    problems: list[tuple[FilingErrorCode, str]] = []
    if person.status != PersonStatus.ACTIVE:
        problems.append((FilingErrorCode.PERSON_NOT_ACTIVE, _("Your insurance is not active.")))
    if rule is None or not rule.accepted:
        problems.append(
            (FilingErrorCode.GROUP_NOT_ACCEPTED, _("Your insured area does not accept this group."))
        )
    elif rule.retired_required and not person.retired:
        problems.append(
            (FilingErrorCode.NOT_RETIRED, _("Only retired people may file as relocated retirees."))
        )
    found = destination_problem(person=person, destination=destination)
    if found:
        problems.append(found)
    return problems


def region_get(*, code: Region | str, field: str = "destination") -> Region:
    if isinstance(code, Region):
        return code
    region = Region.objects.select_related("parent").filter(code=str(code).strip()).first()
    if region is None:
        message = _("Unknown region code.")
        raise ServiceError(FilingErrorCode.UNKNOWN_REGION, message, fields={field: [message]})
    return region


def filing_rules_preview(*, person, group: str, destination: Region | str) -> dict:
    """What filing for `group` in `destination` would take for this person, before they file: eligibility with
    reason codes, materials, commitment, picks, validity, review time, and the networked institutions there."""
    if group not in FilingGroup.values:
        raise ServiceError(
            FilingErrorCode.INVALID_GROUP, _("Unknown group."), fields={"group": [_("Unknown.")]}
        )
    destination = region_get(code=destination)
    policy = filing_policy_for(region=person.insured_region_id)
    rule = group_rule_of(policy=policy, group=group)
    problems = eligibility_problems(
        person=person, group=group, destination=destination, policy=policy, rule=rule
    )
    open_filing = (
        Filing.objects.filter(
            person=person, scheme=person.scheme, status__in=[FilingStatus.SUBMITTED, FilingStatus.APPROVED]
        )
        .exclude(group=FilingGroup.EMERGENCY)
        .order_by("-created_at")
        .first()
        if group != FilingGroup.EMERGENCY
        else None
    )
    networked = institution_search(
        region=destination, networked=True, service=rule.required_service if rule else ""
    )
    sample = list(networked[:PREVIEW_INSTITUTIONS])
    long_term = FilingGroup(group).long_term
    materials = list(rule.materials) if rule else []
    return {
        "group": group,
        "destination": destination.code,
        "destination_name": destination.full_name,
        "eligible": not problems,
        "reasons": [{"code": code.value, "message": message} for code, message in problems],
        "long_term": long_term,
        "materials": [{"kind": kind, "label": str(DocumentKind(kind).label)} for kind in materials],
        "commitment_allowed": bool(rule and rule.commitment_allowed),
        "pick_required": policy.pick_required,
        "max_institutions": policy.max_institutions,
        "required_service": rule.required_service if rule else "",
        "validity_months": None if long_term or rule is None else rule.validity_months,
        "max_validity_months": None if long_term or rule is None else rule.max_validity_months,
        "min_months_before_change": rule.min_months_before_change if rule else 0,
        "ratio_reduction_points": ratio_cut_points(person=person, group=group),
        "review_deadline_days": policy.review_deadline_days,
        "instant_approval": bool(
            rule and (rule.auto_approve or (policy.instant_approval and rule.commitment_allowed))
        ),
        "retroactive_days": policy.retroactive_days,
        "open_filing": (
            {"id": open_filing.pk, "status": open_filing.status, "destination": open_filing.destination_id}
            if open_filing
            else None
        ),
        "networked_institutions_count": networked.count(),
        "networked_institutions": sample,
    }


def ratio_cut_points(*, person, group: str) -> int:
    # The cut belongs to the insured place's settlement policy (versioned per scheme and year); filing only
    # explains it before the person files.
    return ratio_cut_points_for(
        region_code=person.insured_region_id, scheme=person.scheme, group=group, on_date=timezone.localdate()
    )
