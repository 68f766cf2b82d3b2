"""Who may act on a filing, and the one place its state changes: checked, audited, told to the person."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.models import InsuredPerson
from accounts.scopes import in_scope
from core.audit import audit_record
from core.errors import PermissionDenied, ServiceError

from ..choices import FilingStatus
from ..errors import FilingErrorCode
from ..models import Filing, Referral

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
        "filing_id": filing.pk,  # for links only; people read the filing's number
        "filing_number": filing.serial,
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
