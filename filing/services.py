"""Filing writes. Every state change goes through `_transition`, which checks who may make it and from which
state and writes the audit row; the person hears of it through `notification_create`, which queues delivery for
after the commit. Services raise `ServiceError` with a `FilingErrorCode`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.models import InsuredPerson
from accounts.scopes import in_scope
from core.audit import audit_record
from core.errors import PermissionDenied, ServiceError
from core.errors import refusal as _error
from core.masking import mask_id_number, mask_phone
from core.validators import validate_id_number, validate_phone
from reference.models import Institution, Region
from reference.selectors import region_covers

from .choices import (
    PERSON_CHANNELS,
    Channel,
    DocumentKind,
    FilingGroup,
    FilingStatus,
    ProxyRelation,
)
from .coverage import emergency_problem, filing_coverage
from .dates import add_months, today, validity_end, working_days_after
from .documents import MAX_DOCUMENTS_PER_FILING, document_inspect
from .errors import FilingErrorCode
from .models import Filing, FilingDocument, FilingInstitution, FilingPolicy, GroupRule, Referral

# The national rules live in .policy; the name stays importable here for callers that always found it here.
from .policy import NATIONAL_DEFAULT_RULES as NATIONAL_DEFAULT_RULES
from .selectors import (
    eligibility_problems,
    filing_policy_for,
    group_rule_of,
    region_get,
)

# How far ahead a filing may start.
MAX_DAYS_AHEAD = 365

# Who may act on a filing.
OWNER = "owner"  # the insured person's own account
AREA_REVIEWER = "area_reviewer"  # a reviewer of the insured area (also at its service window) or a superuser
COUNTER = "counter"  # a counter operator recording an emergency that counts as filed
REFERRER = "referrer"  # a counter of the hospital that made this referral filing (filing.referrals)
SYSTEM = "system"  # scheduled tasks and automatic decisions

S = FilingStatus
# Supporting documents are added and removed while the filing is a draft; after that they are the record.
DOCUMENTS_EDITABLE = frozenset({S.DRAFT})
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (S.DRAFT, S.SUBMITTED): frozenset({OWNER, AREA_REVIEWER, REFERRER}),
    (S.DRAFT, S.CANCELLED): frozenset({OWNER, AREA_REVIEWER}),
    # An emergency treated without a filing counts as filed: recorded approved at once.
    (S.DRAFT, S.APPROVED): frozenset({COUNTER, AREA_REVIEWER, SYSTEM}),
    (S.SUBMITTED, S.APPROVED): frozenset({AREA_REVIEWER, SYSTEM}),
    (S.SUBMITTED, S.REJECTED): frozenset({AREA_REVIEWER}),
    (S.SUBMITTED, S.CANCELLED): frozenset({OWNER, AREA_REVIEWER, REFERRER}),
    (S.APPROVED, S.CANCELLED): frozenset({OWNER, AREA_REVIEWER, REFERRER}),
    (S.APPROVED, S.REVOKED): frozenset({AREA_REVIEWER}),
    (S.APPROVED, S.EXPIRED): frozenset({SYSTEM}),
    (S.APPROVED, S.SUPERSEDED): frozenset({AREA_REVIEWER, SYSTEM}),
}
del S


@dataclass(frozen=True)
class ProxyApplicant:
    """A family member filing for the person (often an elderly one)."""

    name: str
    id_number: str
    phone: str
    relation: str


# --- Who may act, and the one place states change ---


def _actor_roles(filing: Filing, actor) -> set[str]:
    if actor is None:
        return {SYSTEM}
    roles: set[str] = set()
    if not getattr(actor, "is_authenticated", False):
        return roles
    if filing.person.user_id is not None and filing.person.user_id == actor.pk:
        roles.add(OWNER)
    if in_scope(filing, actor, "insured_region_id"):
        roles.add(AREA_REVIEWER)
    if actor.role == Role.COUNTER and actor.institution_id:
        roles.add(COUNTER)
        if (
            filing.pk
            and Referral.objects.filter(filing_id=filing.pk, institution_id=actor.institution_id).exists()
        ):
            roles.add(REFERRER)
    return roles


def _authorize(filing: Filing, actor, allowed: Iterable[str]) -> set[str]:
    roles = _actor_roles(filing, actor)
    if not roles & set(allowed):
        raise PermissionDenied(_("You are not allowed to act on this filing."))
    return roles


def _check_transition(filing: Filing, *, to: str, actor) -> None:
    """Refuse unless `actor` may move this filing from its current state to `to`."""
    roles = _actor_roles(filing, actor)
    if not roles:
        # Someone unrelated learns nothing about the filing's state.
        raise PermissionDenied(_("You are not allowed to act on this filing."))
    allowed = TRANSITIONS.get((filing.status, to))
    if allowed is None:
        raise _invalid_transition(filing, to)
    if not roles & allowed:
        raise PermissionDenied(_("You are not allowed to act on this filing."))


def filing_transition_allowed(*, filing: Filing, to: str, actor) -> bool:
    """Whether ``actor`` may move ``filing`` from its state to ``to`` (what pages offer); the transition itself
    may still be refused by a rule of its own."""
    allowed = TRANSITIONS.get((filing.status, to))
    return bool(allowed and _actor_roles(filing, actor) & allowed)


def _invalid_transition(filing: Filing, to: str) -> ServiceError:
    return ServiceError(
        FilingErrorCode.INVALID_TRANSITION,
        _("A filing that is %(state)s cannot be %(action)s.")
        % {"state": FilingStatus(filing.status).label, "action": _action_label(to)},
        status=409,
    )


def _transition(
    filing: Filing,
    *,
    to: str,
    actor,
    action: str,
    reason: str = "",
    data: dict | None = None,
    fields: Iterable[str] = (),
    actor_label: str = "",
) -> None:
    """The only place a filing's state changes: checks the actor and the state, saves, writes the audit row."""
    _check_transition(filing, to=to, actor=actor)
    from_state = filing.status
    filing.status = to
    filing.save(update_fields=["status", "updated_at", *fields])
    audit_record(
        actor=actor,
        action=f"filing.{action}",
        target=filing,
        from_state=from_state,
        to_state=to,
        reason=reason,
        data=data,
        actor_label=actor_label,
    )


def _action_label(to: str) -> str:
    return {
        FilingStatus.SUBMITTED: _("submitted"),
        FilingStatus.APPROVED: _("approved"),
        FilingStatus.REJECTED: _("rejected"),
        FilingStatus.CANCELLED: _("cancelled"),
        FilingStatus.REVOKED: _("revoked"),
        FilingStatus.EXPIRED: _("expired"),
        FilingStatus.SUPERSEDED: _("superseded"),
    }.get(to, str(to))


def _notify(filing: Filing, event: str, **extra) -> None:
    # Ids, codes, place names, dates and reasons only: never names, ID numbers or phones.
    from notifications.services import notification_create

    context = {
        "filing_id": filing.pk,
        "group": filing.group,
        "destination_name": filing.destination.full_name,
    }
    context.update(extra)
    notification_create(person=filing.person, event=event, context=context)


def _lock_person(person_id: int) -> None:
    # Every write that could make two filings overlap takes the person's row lock first (then the filing's),
    # so concurrent submissions queue up; the constraints catch anything that slips past.
    InsuredPerson.objects.select_for_update().filter(pk=person_id).first()


def _locked(filing: Filing) -> Filing:
    return (
        Filing.objects.select_for_update(of=("self",))
        .select_related("person", "destination__parent", "insured_region")
        .get(pk=filing.pk)
    )


# --- Checking what a filing asks for ---


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
            _("Pick at most %(count)d institutions.") % {"count": policy.max_institutions},
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


def _check_complete(filing: Filing, checked: _Checked) -> None:
    """What only a submission needs: picks where required, and the materials or a commitment."""
    picks = len(checked.institutions)
    if checked.policy.pick_required and picks == 0:
        raise _error(
            FilingErrorCode.INSTITUTIONS_REQUIRED,
            _("Your insured area asks you to pick 1 to %(count)d institutions.")
            % {"count": checked.policy.max_institutions},
            "institutions",
        )
    if filing.commitment:
        return
    have = set(filing.documents.values_list("kind", flat=True))
    if Referral.objects.filter(filing_id=filing.pk).exists():  # the referring hospital's own referral
        have.add(DocumentKind.REFERRAL_LETTER)
    missing = [kind for kind in (checked.rule.materials or []) if kind not in have]
    if missing:
        labels = ", ".join(str(DocumentKind(kind).label) for kind in missing)
        message = _("Upload these materials, or sign a commitment where allowed: %(materials)s") % {
            "materials": labels
        }
        raise ServiceError(FilingErrorCode.MATERIALS_MISSING, message, fields={"documents": missing})


def _new_serial(insured_region_id: str, day: dt.date) -> str:
    while True:
        serial = f"BA{insured_region_id}{day:%Y%m%d}{secrets.randbelow(10**8):08d}"
        if not Filing.objects.filter(serial=serial).exists():
            return serial


def _set_picks(filing: Filing, institutions: list[Institution]) -> None:
    FilingInstitution.objects.filter(filing=filing).delete()
    FilingInstitution.objects.bulk_create(
        [
            FilingInstitution(filing=filing, institution=inst, position=i)
            for i, inst in enumerate(institutions)
        ]
    )


def _picked(filing: Filing) -> list[Institution]:
    return [
        p.institution for p in FilingInstitution.objects.filter(filing=filing).select_related("institution")
    ]


def _apply_proxy(filing: Filing, proxy: ProxyApplicant | None) -> None:
    filing.proxy_name = proxy.name if proxy else ""
    filing.proxy_id_number = proxy.id_number if proxy else ""
    filing.proxy_phone = proxy.phone if proxy else ""
    filing.proxy_relation = proxy.relation if proxy else ""


# --- Drafts ---


@transaction.atomic
def filing_create_draft(
    *,
    person,
    actor,
    group: str,
    destination: Region | str,
    start_date: dt.date,
    end_date: dt.date | None = None,
    institutions: Iterable[Institution | str] = (),
    commitment: bool = False,
    channel: str = Channel.WEB,
    proxy: ProxyApplicant | Mapping | None = None,
    idempotency_key: str | None = None,
    supersedes: Filing | None = None,
    destination_address: str = "",
) -> Filing:
    """Create a draft filing for `person`, checked against their insured area's rules (materials and picks are
    checked on submission). The same `idempotency_key` returns the filing it first created. `supersedes` makes
    it a change of an approved filing, which that filing gives way to when this one is approved."""
    probe = Filing(person=person, insured_region_id=person.insured_region_id)
    roles = _authorize(probe, actor, {OWNER, AREA_REVIEWER})
    if idempotency_key:
        existing = Filing.objects.filter(person=person, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    group = _clean_group(group)
    channel = _clean_channel(channel, roles)
    destination = region_get(code=destination)
    proxy = _clean_proxy(proxy)
    day = today()
    checked = _check(
        person=person,
        group=group,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        institutions=_resolve_institutions(institutions),
        commitment=bool(commitment),
        supersedes=supersedes,
        exclude=(),
        day=day,
    )
    filing = Filing(
        serial=_new_serial(person.insured_region_id, day),
        person=person,
        scheme=person.scheme,
        group=group,
        channel=channel,
        insured_region_id=person.insured_region_id,
        destination=destination,
        destination_address=(destination_address or "").strip()[:200],
        start_date=start_date,
        end_date=checked.end_date,
        commitment=bool(commitment),
        pick_required=checked.policy.pick_required,
        masked_id_number=mask_id_number(person.id_number),
        masked_phone=mask_phone(person.phone),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        supersedes=supersedes,
        idempotency_key=idempotency_key or None,
    )
    _apply_proxy(filing, proxy)
    try:
        with transaction.atomic():
            filing.save()
    except IntegrityError:
        # Two requests with one key raced: the other one created it.
        existing = Filing.objects.filter(person=person, idempotency_key=idempotency_key).first()
        if idempotency_key and existing is not None:
            return existing
        raise
    _set_picks(filing, checked.institutions)
    audit_record(
        actor=actor,
        action="filing.create",
        target=filing,
        to_state=filing.status,
        data={
            "group": group,
            "destination": destination.code,
            "channel": channel,
            "supersedes": supersedes.pk if supersedes else None,
            "proxy": proxy is not None,
        },
    )
    return filing


DRAFT_FIELDS = (
    "group",
    "destination",
    "start_date",
    "end_date",
    "institutions",
    "commitment",
    "channel",
    "proxy",
    "destination_address",
)


@transaction.atomic
def filing_update_draft(*, filing: Filing, actor, **changes) -> Filing:
    """Change a draft (any of DRAFT_FIELDS; `proxy=None` removes the proxy); every rule is checked again."""
    unknown = set(changes) - set(DRAFT_FIELDS)
    if unknown:
        raise TypeError(f"filing_update_draft() got unexpected fields: {', '.join(sorted(unknown))}")
    filing = _locked(filing)
    roles = _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status != FilingStatus.DRAFT:
        raise ServiceError(FilingErrorCode.NOT_EDITABLE, _("Only a draft can be changed."), status=409)
    person = filing.person
    group = _clean_group(changes.get("group", filing.group))
    if "channel" in changes:
        filing.channel = _clean_channel(changes["channel"], roles)
    destination = region_get(code=changes["destination"]) if "destination" in changes else filing.destination
    institutions = (
        _resolve_institutions(changes["institutions"]) if "institutions" in changes else _picked(filing)
    )
    commitment = bool(changes.get("commitment", filing.commitment))
    start_date = changes.get("start_date", filing.start_date)
    # A temporary filing's computed end date moves with its start unless a new one is given.
    recompute_end = "start_date" in changes or "group" in changes
    end_date = changes.get("end_date", None if recompute_end else filing.end_date)
    if "proxy" in changes:
        _apply_proxy(filing, _clean_proxy(changes["proxy"]))
    checked = _check(
        person=person,
        group=group,
        destination=destination,
        start_date=start_date,
        end_date=end_date,
        institutions=institutions,
        commitment=commitment,
        supersedes=filing.supersedes,
        exclude=[filing.pk],
        day=today(),
    )
    filing.group, filing.destination, filing.start_date = group, destination, start_date
    filing.end_date, filing.commitment = checked.end_date, commitment
    filing.pick_required = checked.policy.pick_required
    if "destination_address" in changes:
        filing.destination_address = (changes["destination_address"] or "").strip()[:200]
    filing.save()
    if "institutions" in changes:
        _set_picks(filing, checked.institutions)
    audit_record(
        actor=actor,
        action="filing.update",
        target=filing,
        from_state=filing.status,
        to_state=filing.status,
        data={"fields": sorted(changes)},
    )
    return filing


# --- Submission and decisions ---


@transaction.atomic
def filing_submit(*, filing: Filing, actor, idempotency_key: str | None = None) -> Filing:
    """Submit a draft for review, after checking every rule, the materials and the picks. A complete commitment
    filing under a policy that says so, or a group that counts as filed, is approved at once. Submitting again
    with the same `idempotency_key` returns the filing as it is."""
    _lock_person(filing.person_id)
    filing = _locked(filing)
    if idempotency_key and filing.submit_key == idempotency_key and filing.status != FilingStatus.DRAFT:
        _authorize(filing, actor, {OWNER, AREA_REVIEWER})
        return filing
    _check_transition(filing, to=FilingStatus.SUBMITTED, actor=actor)
    day = today()
    checked = _check(
        person=filing.person,
        group=filing.group,
        destination=filing.destination,
        start_date=filing.start_date,
        end_date=filing.end_date,
        institutions=_picked(filing),
        commitment=filing.commitment,
        supersedes=filing.supersedes,
        exclude=[filing.pk],
        day=day,
    )
    _check_complete(filing, checked)
    filing.end_date = checked.end_date
    filing.pick_required = checked.policy.pick_required
    filing.submitted_at = timezone.now()
    filing.review_deadline = working_days_after(day, checked.policy.review_deadline_days)
    filing.submit_key = idempotency_key or None
    try:
        with transaction.atomic():
            _transition(
                filing,
                to=FilingStatus.SUBMITTED,
                actor=actor,
                action="submit",
                fields=["end_date", "pick_required", "submitted_at", "review_deadline", "submit_key"],
                data={"commitment": filing.commitment, "review_deadline": filing.review_deadline.isoformat()},
            )
    except IntegrityError:
        raise _overlap_error() from None
    rule = checked.rule
    instant = rule.auto_approve or (filing.commitment and checked.policy.instant_approval)
    if instant:
        _approve(filing, actor=None, actor_label="system:instant-approval")
    else:
        _notify(filing, "filing_submitted", review_deadline=filing.review_deadline.isoformat())
    return filing


def _approve(filing: Filing, *, actor, actor_label: str = "") -> None:
    """Approve a locked, submitted filing; the filing it changes gives way the day before it starts."""
    other = _overlapping(
        person_id=filing.person_id,
        scheme=filing.scheme,
        group=filing.group,
        destination_id=filing.destination_id,
        start_date=filing.start_date,
        end_date=filing.end_date,
        exclude=[filing.pk, filing.supersedes_id or 0],
    )
    if other is not None and other.status == FilingStatus.APPROVED:
        raise _overlap_error(other)
    now = timezone.now()
    old = filing.supersedes
    if old is not None:
        old = Filing.objects.select_for_update().select_related("person").get(pk=old.pk)
        if old.status == FilingStatus.APPROVED:
            last_day = filing.start_date - dt.timedelta(days=1)
            old.end_date = min(old.end_date or last_day, last_day)
            old.closed_at = now
            _transition(
                old,
                to=FilingStatus.SUPERSEDED,
                actor=actor,
                action="supersede",
                fields=["end_date", "closed_at"],
                data={"by": filing.pk},
                actor_label=actor_label,
            )
    filing.decided_at = now
    filing.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            _transition(
                filing,
                to=FilingStatus.APPROVED,
                actor=actor,
                action="approve",
                fields=["decided_at", "decided_by"],
                actor_label=actor_label,
            )
    except IntegrityError:
        raise _overlap_error() from None
    _notify(
        filing,
        "filing_approved",
        start_date=filing.start_date.isoformat(),
        end_date=filing.end_date.isoformat() if filing.end_date else "",
        all_institutions=not filing.pick_required,
    )


@transaction.atomic
def filing_approve(*, filing: Filing, actor) -> Filing:
    """A reviewer of the insured area approves a submitted filing."""
    _lock_person(filing.person_id)
    filing = _locked(filing)
    _authorize(filing, actor, {AREA_REVIEWER})
    if filing.status != FilingStatus.SUBMITTED:
        raise _invalid_transition(filing, FilingStatus.APPROVED)
    _approve(filing, actor=actor)
    return filing


@transaction.atomic(durable=True)
def filing_reject(*, filing: Filing, actor, reason: str, hint: str = "") -> Filing:
    """A reviewer of the insured area rejects a submitted filing, saying why and how to fix it."""
    filing = _locked(filing)
    _check_transition(filing, to=FilingStatus.REJECTED, actor=actor)
    reason, hint = (reason or "").strip(), (hint or "").strip()
    if not reason:
        raise _error(FilingErrorCode.REASON_REQUIRED, _("Say why the filing is rejected."), "reason")
    filing.reason, filing.fix_hint = reason, hint
    filing.decided_at, filing.decided_by = timezone.now(), actor
    _transition(
        filing,
        to=FilingStatus.REJECTED,
        actor=actor,
        action="reject",
        reason=reason,
        fields=["reason", "fix_hint", "decided_at", "decided_by"],
    )
    _notify(filing, "filing_rejected", reason=reason, hint=hint)
    return filing


@transaction.atomic
def filing_cancel(*, filing: Filing, actor, reason: str = "") -> Filing:
    """The person (or their area's window) cancels a filing: a draft is discarded, a submission withdrawn, an
    approved filing ended, once the area's minimum period has passed."""
    _lock_person(filing.person_id)
    filing = _locked(filing)
    _check_transition(filing, to=FilingStatus.CANCELLED, actor=actor)
    was = filing.status
    if was == FilingStatus.APPROVED:
        _check_waiting_period(filing, day=today(), code=FilingErrorCode.TOO_EARLY_TO_CANCEL)
    filing.closed_at = timezone.now()
    filing.reason = (reason or "").strip()
    _transition(
        filing,
        to=FilingStatus.CANCELLED,
        actor=actor,
        action="cancel",
        reason=filing.reason,
        fields=["closed_at", "reason"],
    )
    if was != FilingStatus.DRAFT:
        _notify(filing, "filing_cancelled")
    return filing


@transaction.atomic(durable=True)
def filing_revoke(*, filing: Filing, actor, reason: str) -> Filing:
    """A reviewer of the insured area ends an approved filing, e.g. for a false commitment."""
    filing = _locked(filing)
    _check_transition(filing, to=FilingStatus.REVOKED, actor=actor)
    reason = (reason or "").strip()
    if not reason:
        raise _error(FilingErrorCode.REASON_REQUIRED, _("Say why the filing is revoked."), "reason")
    filing.reason, filing.closed_at = reason, timezone.now()
    _transition(
        filing,
        to=FilingStatus.REVOKED,
        actor=actor,
        action="revoke",
        reason=reason,
        fields=["reason", "closed_at"],
    )
    _notify(filing, "filing_revoked", reason=reason)
    return filing


@transaction.atomic
def filing_expire(*, filing: Filing) -> Filing:
    """End an approved temporary filing whose last day has passed (the scheduled task calls this)."""
    filing = _locked(filing)
    _check_transition(filing, to=FilingStatus.EXPIRED, actor=None)
    if filing.end_date is None or filing.end_date >= today():
        raise ServiceError(FilingErrorCode.NOT_ENDED, _("This filing has not ended yet."), status=409)
    filing.closed_at = timezone.now()
    _transition(filing, to=FilingStatus.EXPIRED, actor=None, action="expire", fields=["closed_at"])
    _notify(filing, "filing_expired", end_date=filing.end_date.isoformat())
    return filing


@transaction.atomic
def filing_remind_expiring(*, filing: Filing) -> bool:
    """Tell the person their filing ends soon; at most once per filing. True when the reminder was written."""
    marked = Filing.objects.filter(
        pk=filing.pk, status=FilingStatus.APPROVED, end_date__isnull=False, expiry_reminded_at__isnull=True
    ).update(expiry_reminded_at=timezone.now())
    if not marked:
        return False
    filing = Filing.objects.select_related("person", "destination__parent").get(pk=filing.pk)
    _notify(
        filing,
        "filing_expiring",
        end_date=filing.end_date.isoformat(),
        days_left=(filing.end_date - today()).days,
    )
    return True


@transaction.atomic
def filing_record_emergency(*, person, institution: Institution, on_date: dt.date, actor) -> Filing:
    """Record an emergency treated at `institution` without a filing: it counts as filed, so an approved
    emergency filing for the institution's pooling area is created. If a filing already applies there on that
    day, that filing is returned instead."""
    _check_transition(
        Filing(person=person, insured_region_id=person.insured_region_id),
        to=FilingStatus.APPROVED,
        actor=actor,
    )
    _lock_person(person.pk)
    coverage = filing_coverage(person=person, institution=institution, on_date=on_date)
    if coverage.applies:
        return coverage.filing
    problem = emergency_problem(person=person, institution=institution)
    if problem is not None:
        raise _error(*problem)
    destination = Region.objects.select_related("parent").get(pk=institution.region_id)
    _policy, rule = _policy_and_rule(person, FilingGroup.EMERGENCY)
    end_date = validity_end(on_date, (rule.validity_months if rule else None) or 6)
    later = _overlapping(
        person_id=person.pk,
        scheme=person.scheme,
        group=FilingGroup.EMERGENCY,
        destination_id=destination.code,
        start_date=on_date,
        end_date=end_date,
        exclude=(),
    )
    if later is not None:
        # An episode already recorded here starts after `on_date` (one covering it would apply above).
        end_date = later.start_date - dt.timedelta(days=1)
    filing = Filing.objects.create(
        serial=_new_serial(person.insured_region_id, today()),
        person=person,
        scheme=person.scheme,
        group=FilingGroup.EMERGENCY,
        channel=Channel.INSTITUTION,
        insured_region_id=person.insured_region_id,
        destination=destination,
        start_date=on_date,
        end_date=end_date,
        masked_id_number=mask_id_number(person.id_number),
        masked_phone=mask_phone(person.phone),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        actor=actor,
        action="filing.create",
        target=filing,
        to_state=filing.status,
        data={"group": filing.group, "destination": destination.code, "institution": institution.code},
    )
    filing.submitted_at = filing.decided_at = timezone.now()
    filing.decided_by = filing.created_by
    _transition(
        filing,
        to=FilingStatus.APPROVED,
        actor=actor,
        action="record_emergency",
        fields=["submitted_at", "decided_at", "decided_by"],
        data={"institution": institution.code},
    )
    _notify(
        filing,
        "filing_approved",
        start_date=filing.start_date.isoformat(),
        end_date=filing.end_date.isoformat(),
        all_institutions=True,
    )
    return filing


# --- Documents ---


@transaction.atomic
def document_add(*, filing: Filing, actor, upload, kind: str) -> FilingDocument:
    """Attach a supporting document to a draft: PDF, JPEG or PNG (checked by content), size-limited, stored
    privately under a random name."""
    filing = _locked(filing)
    _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status not in DOCUMENTS_EDITABLE:
        raise ServiceError(
            FilingErrorCode.NOT_EDITABLE, _("Documents can be added to a draft only."), status=409
        )
    if kind not in DocumentKind.values:
        raise _error(FilingErrorCode.DOCUMENT_TYPE_NOT_ALLOWED, _("Unknown document kind."), "kind")
    if filing.documents.count() >= MAX_DOCUMENTS_PER_FILING:
        raise ServiceError(
            FilingErrorCode.TOO_MANY_DOCUMENTS,
            _("A filing can have at most %(count)d documents.") % {"count": MAX_DOCUMENTS_PER_FILING},
        )
    inspected = document_inspect(upload)
    document = FilingDocument(
        filing=filing,
        kind=kind,
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    document.file.save("upload", ContentFile(inspected.content), save=False)
    try:
        document.save()
        audit_record(
            actor=actor,
            action="filing.document_add",
            target=filing,
            from_state=filing.status,
            to_state=filing.status,
            data={"document": document.pk, "kind": kind, "size": document.size},
        )
    except Exception:
        # The file was written before the row; do not leave it behind.
        document.file.storage.delete(document.file.name)
        raise
    return document


def document_open_by_reviewer(*, document: FilingDocument, actor) -> FilingDocument:
    """Record that a reviewer opened a person's supporting document: access to personal material is audited.

    The event names the document (not the filing), so the person's status timeline stays about decisions.
    """
    audit_record(
        actor=actor,
        action="filing.document_opened",
        target=document,
        data={"filing": document.filing_id, "kind": document.kind},
    )
    return document


@transaction.atomic
def document_remove(*, document: FilingDocument, actor) -> None:
    """Remove a document from a draft; the file is deleted once the removal is committed."""
    filing = _locked(document.filing)
    _authorize(filing, actor, {OWNER, AREA_REVIEWER})
    if filing.status not in DOCUMENTS_EDITABLE:
        raise ServiceError(
            FilingErrorCode.NOT_EDITABLE, _("Documents can be removed from a draft only."), status=409
        )
    name, storage, pk, kind = document.file.name, document.file.storage, document.pk, document.kind
    FilingDocument.objects.filter(pk=pk).delete()
    audit_record(
        actor=actor,
        action="filing.document_remove",
        target=filing,
        from_state=filing.status,
        to_state=filing.status,
        data={"document": pk, "kind": kind},
    )
    transaction.on_commit(lambda: storage.delete(name))


# --- Policies ---


def filing_policy_record_change(*, policy: FilingPolicy, actor, changed: list[str]) -> None:
    """Audit a change an agency made to its filing policy (in admin)."""
    audit_record(actor=actor, action="filing_policy.change", target=policy, data={"changed": changed})
