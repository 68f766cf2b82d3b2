"""Submitting a filing and deciding it: approve, reject, cancel, revoke, expire, remind, emergencies."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ServiceError
from core.errors import refusal as _error
from core.masking import mask_id_number, mask_phone
from reference.models import Institution, Region

from ..choices import (
    Channel,
    FilingGroup,
    FilingStatus,
)
from ..coverage import emergency_problem, filing_coverage
from ..dates import today, validity_end, working_days_after
from ..errors import FilingErrorCode
from ..models import Filing
from .checks import (
    _check,
    _check_complete,
    _check_waiting_period,
    _overlap_error,
    _overlapping,
    _policy_and_rule,
)
from .drafts import _new_serial, _picked
from .transitions import (
    AREA_REVIEWER,
    OWNER,
    _authorize,
    _check_transition,
    _invalid_transition,
    _lock_person,
    _locked,
    _notify,
    _transition,
)


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
