"""Whether what a filing asks for is allowed: group, channel, proxy, institutions, dates, overlaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from core.errors import ServiceError
from core.errors import refusal as _error
from core.validators import validate_id_number, validate_phone
from reference.models import Institution, Region
from reference.selectors import region_covers

from ..choices import (
    PERSON_CHANNELS,
    Channel,
    DocumentKind,
    FilingGroup,
    FilingStatus,
    ProxyRelation,
)
from ..dates import add_months, validity_end
from ..errors import FilingErrorCode
from ..models import Filing, FilingPolicy, GroupRule, Referral
from ..selectors import (
    eligibility_problems,
    filing_policy_for,
    group_rule_of,
)
from .transitions import AREA_REVIEWER

# How far ahead a filing may start.
MAX_DAYS_AHEAD = 365


@dataclass(frozen=True)
class ProxyApplicant:
    """A family member filing for the person (often an elderly one)."""

    name: str
    id_number: str
    phone: str
    relation: str


def _policy_and_rule(person, group: str) -> tuple[FilingPolicy, GroupRule | None]:
    policy = filing_policy_for(region=person.insured_region_id)
    return policy, group_rule_of(policy=policy, group=group)


def _clean_group(group) -> str:
    if group not in FilingGroup.values:
        raise _error(FilingErrorCode.INVALID_GROUP, _("Unknown group."), "group")
    return str(FilingGroup(group).value)


def _clean_channel(channel, roles: set[str]) -> str:
    if channel not in Channel.values:
        raise _error(FilingErrorCode.INVALID_CHANNEL, _("Unknown channel."), "channel")
    if channel not in PERSON_CHANNELS and AREA_REVIEWER not in roles:
        raise _error(FilingErrorCode.INVALID_CHANNEL, _("This channel is for agency staff."), "channel")
    return str(Channel(channel).value)


def _clean_proxy(proxy) -> ProxyApplicant | None:
    if proxy is None:
        return None
    if isinstance(proxy, Mapping):
        proxy = ProxyApplicant(
            **{k: str(proxy.get(k) or "").strip() for k in ("name", "id_number", "phone", "relation")}
        )
    fields: dict[str, list] = {}
    if not proxy.name.strip():
        fields["proxy.name"] = [_("The proxy applicant's name is required.")]
    try:
        id_number = validate_id_number(proxy.id_number)
    except ValidationError as exc:
        fields["proxy.id_number"], id_number = exc.messages, ""
    try:
        phone = validate_phone(proxy.phone)
    except ValidationError as exc:
        fields["proxy.phone"], phone = exc.messages, ""
    if proxy.relation not in ProxyRelation.values:
        fields["proxy.relation"] = [_("Choose the proxy applicant's relation to the person.")]
    if fields:
        raise ServiceError(FilingErrorCode.INVALID_PROXY, next(iter(fields.values()))[0], fields=fields)
    return ProxyApplicant(name=proxy.name.strip(), id_number=id_number, phone=phone, relation=proxy.relation)


def _resolve_institutions(institutions) -> list[Institution]:
    items = list(dict.fromkeys(institutions or ()))
    objects = [i for i in items if isinstance(i, Institution)]
    codes = [str(i).strip().upper() for i in items if not isinstance(i, Institution)]
    if codes:
        found = {i.code: i for i in Institution.objects.filter(code__in=codes)}
        unknown = [c for c in codes if c not in found]
        if unknown:
            message = _("Unknown institution code: %(codes)s") % {"codes": ", ".join(unknown)}
            raise _error(FilingErrorCode.UNKNOWN_INSTITUTION, message, "institutions")
        objects += [found[c] for c in codes]
    return list(dict.fromkeys(objects))


def _check_institutions(
    institutions: list[Institution], *, destination: Region, policy: FilingPolicy, rule: GroupRule | None
) -> None:
    if len(institutions) > policy.max_institutions:
        raise _error(
            FilingErrorCode.TOO_MANY_INSTITUTIONS,
            _("You can pick at most %(count)d institutions.") % {"count": policy.max_institutions},
            "institutions",
        )
    for institution in institutions:
        if not region_covers(destination.code, institution.region_id):
            raise _error(
                FilingErrorCode.INSTITUTION_NOT_IN_DESTINATION,
                _("%(name)s is not in the destination.") % {"name": institution.name},
                "institutions",
            )
        if not (institution.active and institution.networked):
            raise _error(
                FilingErrorCode.INSTITUTION_NOT_NETWORKED,
                _("%(name)s cannot settle cross-provincial bills.") % {"name": institution.name},
                "institutions",
            )
        if rule and rule.required_service and not institution.offers(rule.required_service):
            raise _error(
                FilingErrorCode.INSTITUTION_SERVICE_MISSING,
                _("%(name)s does not offer the service this filing needs.") % {"name": institution.name},
                "institutions",
            )


def _check_dates(
    *,
    group: str,
    start_date: dt.date,
    end_date: dt.date | None,
    policy: FilingPolicy,
    rule: GroupRule | None,
    supersedes: Filing | None,
    day: dt.date,
) -> dt.date | None:
    """Validate the dates and return the end date (None: until cancelled)."""
    if not isinstance(start_date, dt.date):
        raise _error(FilingErrorCode.INVALID_START_DATE, _("Enter the start date."), "start_date")
    if start_date < day:
        if supersedes is not None:
            raise _error(
                FilingErrorCode.INVALID_START_DATE, _("A change cannot start in the past."), "start_date"
            )
        if (day - start_date).days > policy.retroactive_days:
            message = (
                _("Your insured area does not accept filings that start in the past.")
                if policy.retroactive_days == 0
                else _("A filing may start at most %(days)d days ago.") % {"days": policy.retroactive_days}
            )
            raise _error(FilingErrorCode.RETROACTIVE_NOT_ALLOWED, message, "start_date")
    if (start_date - day).days > MAX_DAYS_AHEAD:
        raise _error(
            FilingErrorCode.START_DATE_TOO_LATE,
            _("A filing may start at most a year from today."),
            "start_date",
        )
    if supersedes is not None and start_date <= supersedes.start_date:
        raise _error(
            FilingErrorCode.INVALID_START_DATE,
            _("A change must start after the filing it changes."),
            "start_date",
        )
    if FilingGroup(group).long_term:
        if end_date is not None:
            raise _error(
                FilingErrorCode.END_DATE_NOT_ALLOWED,
                _("Long-term filings are valid until cancelled; leave the end date empty."),
                "end_date",
            )
        return None
    months = (rule.validity_months if rule else None) or 6
    shortest = validity_end(start_date, months)
    if end_date is None:
        return shortest
    if end_date < shortest:
        raise _error(
            FilingErrorCode.VALIDITY_TOO_SHORT,
            _("This filing is valid for at least %(months)d months.") % {"months": months},
            "end_date",
        )
    longest = validity_end(start_date, max(months, (rule.max_validity_months if rule else None) or months))
    if end_date > longest:
        raise _error(
            FilingErrorCode.VALIDITY_TOO_LONG,
            _("The end date can be %(date)s at the latest.") % {"date": longest.isoformat()},
            "end_date",
        )
    return end_date


def _overlapping(
    *,
    person_id: int,
    scheme: str,
    group: str,
    destination_id: str,
    start_date: dt.date,
    end_date: dt.date | None,
    exclude: Iterable[int],
) -> Filing | None:
    """Another filing under review, or approved with overlapping dates, that this one would clash with."""
    qs = Filing.objects.filter(person_id=person_id, scheme=scheme).exclude(
        pk__in=[pk for pk in exclude if pk]
    )
    dates = Q(end_date__isnull=True) | Q(end_date__gte=start_date)
    if end_date is not None:
        dates &= Q(start_date__lte=end_date)
    if group == FilingGroup.EMERGENCY:
        # An emergency episode clashes only with another one in the same destination.
        qs = qs.filter(group=FilingGroup.EMERGENCY, destination_id=destination_id)
        return qs.filter(Q(status=FilingStatus.APPROVED) & dates).first()
    qs = qs.exclude(group=FilingGroup.EMERGENCY)
    return qs.filter(Q(status=FilingStatus.SUBMITTED) | (Q(status=FilingStatus.APPROVED) & dates)).first()


def _overlap_error(other: Filing | None = None) -> ServiceError:
    if other is not None and other.status == FilingStatus.SUBMITTED:
        message = _("You already have a filing under review for this scheme.")
    else:
        message = _("You already have a filing in force for these dates; change or cancel it first.")
    return ServiceError(
        FilingErrorCode.OVERLAPPING_FILING,
        message,
        status=409,
        fields={"filing": [str(other.pk)]} if other is not None else None,
    )


def _check_supersedes(*, person, supersedes: Filing | None, day: dt.date) -> None:
    if supersedes is None:
        return
    if supersedes.person_id != person.pk or supersedes.status != FilingStatus.APPROVED:
        raise _error(
            FilingErrorCode.INVALID_SUPERSEDES, _("Only a filing in force can be changed."), "supersedes"
        )
    _check_waiting_period(supersedes, day=day, code=FilingErrorCode.TOO_EARLY_TO_CHANGE)


def _check_waiting_period(filing: Filing, *, day: dt.date, code: FilingErrorCode) -> None:
    _policy, rule = _policy_and_rule(filing.person, filing.group)
    months = rule.min_months_before_change if rule else 0
    if months and day < add_months(filing.start_date, months):
        message = _("This filing can be changed or cancelled from %(date)s.") % {
            "date": add_months(filing.start_date, months).isoformat()
        }
        raise ServiceError(code, message)


@dataclass
class _Checked:
    policy: FilingPolicy
    rule: GroupRule | None
    end_date: dt.date | None
    institutions: list[Institution]


def _check(
    *,
    person,
    group: str,
    destination: Region,
    start_date: dt.date,
    end_date: dt.date | None,
    institutions: list[Institution],
    commitment: bool,
    supersedes: Filing | None,
    exclude: Iterable[int],
    day: dt.date,
) -> _Checked:
    """Every rule a draft must meet; submission checks materials and picks on top."""
    policy, rule = _policy_and_rule(person, group)
    problems = eligibility_problems(
        person=person, group=group, destination=destination, policy=policy, rule=rule
    )
    if problems:
        code, message = problems[0]
        field = (
            "destination"
            if code
            in (FilingErrorCode.DESTINATION_IN_INSURED_PROVINCE, FilingErrorCode.DESTINATION_NOT_ALLOWED)
            else "group"
        )
        raise _error(code, message, field)
    if commitment and not rule.commitment_allowed:
        raise _error(
            FilingErrorCode.COMMITMENT_NOT_ALLOWED,
            _("For this group your insured area needs the documents, not a commitment."),
            "commitment",
        )
    _check_supersedes(person=person, supersedes=supersedes, day=day)
    end = _check_dates(
        group=group,
        start_date=start_date,
        end_date=end_date,
        policy=policy,
        rule=rule,
        supersedes=supersedes,
        day=day,
    )
    _check_institutions(institutions, destination=destination, policy=policy, rule=rule)
    other = _overlapping(
        person_id=person.pk,
        scheme=person.scheme,
        group=group,
        destination_id=destination.code,
        start_date=start_date,
        end_date=end,
        exclude=[*exclude, supersedes.pk if supersedes else 0],
    )
    if other is not None:
        raise _overlap_error(other)
    return _Checked(policy=policy, rule=rule, end_date=end, institutions=institutions)


def _missing(
    filing: Filing, *, policy: FilingPolicy, rule: GroupRule | None, picks: int
) -> list[ServiceError]:
    problems = []
    if policy.pick_required and picks == 0:
        problems.append(
            _error(
                FilingErrorCode.INSTITUTIONS_REQUIRED,
                _("Your insured area asks you to pick 1 to %(count)d institutions.")
                % {"count": policy.max_institutions},
                "institutions",
            )
        )
    if filing.commitment or rule is None:
        return problems
    have = set(filing.documents.values_list("kind", flat=True))
    if Referral.objects.filter(filing_id=filing.pk).exists():  # the referring hospital's own referral
        have.add(DocumentKind.REFERRAL_LETTER)
    missing = [kind for kind in (rule.materials or []) if kind not in have]
    if missing:
        # Chinese lists take the enumeration comma.
        separator = "、" if (translation.get_language() or "zh").startswith("zh") else ", "
        labels = separator.join(str(DocumentKind(kind).label) for kind in missing)
        message = _("Upload these materials, or sign a commitment where allowed: %(materials)s") % {
            "materials": labels
        }
        problems.append(
            ServiceError(FilingErrorCode.MATERIALS_MISSING, message, fields={"documents": missing})
        )
    return problems


def filing_missing(*, filing: Filing) -> list[ServiceError]:
    """What a draft still lacks before it can be submitted (picks where required, the materials or a
    commitment), each as the refusal `filing_submit` would give; empty when nothing is missing."""
    policy, rule = _policy_and_rule(filing.person, filing.group)
    return _missing(filing, policy=policy, rule=rule, picks=filing.picks.count())


def _check_complete(filing: Filing, checked: _Checked) -> None:
    """What only a submission needs: picks where required, and the materials or a commitment."""
    problems = _missing(filing, policy=checked.policy, rule=checked.rule, picks=len(checked.institutions))
    if problems:
        raise problems[0]
