"""Which committed settlements deserve a reviewer's look, and how a reviewer closes a flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.deferred import deferrable
from core.errors import ServiceError

from ..choices import (
    FlagKind,
    FlagStatus,
)
from ..errors import SettlementErrorCode
from ..models import (
    Settlement,
    SupervisionFlag,
)

SUPERVISION_DEFAULTS = {
    "MULTI_CITY_HOURS": 2,
    "MAX_SETTLEMENTS_PER_PERSON_PER_DAY": 3,
    "INSTITUTION_VOLUME_FACTOR": 3,
    "INSTITUTION_VOLUME_MIN": 20,
    "INSTITUTION_TRAILING_DAYS": 30,
}


def supervision_setting(name: str):
    return getattr(settings, "SETTLEMENT_SUPERVISION", {}).get(name, SUPERVISION_DEFAULTS[name])


def _flag(
    *, kind: str, key: str, settlement: Settlement, person=None, institution=None, details: dict
) -> bool:
    """Raise a flag once per key; an existing open flag gets the latest details. True if newly raised."""
    flag, created = SupervisionFlag.objects.get_or_create(
        dedupe_key=key[:120],
        defaults={
            "kind": kind,
            "person": person,
            "institution": institution,
            "settlement": settlement,
            "details": details,
        },
    )
    if not created and flag.status == FlagStatus.OPEN and flag.details != details:
        flag.details = details
        flag.save(update_fields=["details"])
    return created


@deferrable
def supervision_check(*, settlement_id: int) -> list[str]:
    """Look at a committed settlement for patterns worth a reviewer's look; returns the kinds raised now.

    Runs after the settlement commits (from the deferred-work outbox) and never changes it: a flag alone
    blocks nothing. Running it again raises nothing new: each flag has its dedupe key.
    """
    settlement = (
        Settlement.objects.select_related("institution", "person", "code_event")
        .filter(pk=settlement_id)
        .first()
    )
    if settlement is None:
        return []
    raised = []
    if _check_multi_city(settlement):
        raised.append(FlagKind.MULTI_CITY.value)
    if _check_frequent(settlement):
        raised.append(FlagKind.FREQUENT.value)
    if _check_institution_volume(settlement):
        raised.append(FlagKind.INSTITUTION_VOLUME.value)
    return raised


# The outbox stores a handler by its dotted path (core.deferred), and its rows hold the door's path: keep it.
supervision_check.__module__ = "settlement.services"


def _check_multi_city(settlement: Settlement) -> bool:
    window = dt.timedelta(hours=supervision_setting("MULTI_CITY_HOURS"))
    since, until = settlement.settled_at - window, settlement.settled_at + window
    city = settlement.institution.region_id
    others = list(
        Settlement.objects.filter(
            person_id=settlement.person_id, settled_at__gte=since, settled_at__lte=until
        )
        .exclude(pk=settlement.pk)
        .exclude(institution__region_id=city)
        .values_list("number", "institution__code", "institution__region_id")
    )
    uses = []
    credential_id = settlement.code_event.credential_id if settlement.code_event_id else None
    try:
        from ecode.models import CodeEvent, CodeEventKind

        events = CodeEvent.objects.filter(
            kind=CodeEventKind.CONSUME, result="ok", created_at__gte=since, created_at__lte=until
        ).exclude(institution__region_id=city)
        events = (
            events.filter(credential_id=credential_id)
            if credential_id
            else events.filter(person_id=settlement.person_id)
        )
        uses = list(events.values_list("pk", "institution__code", "institution__region_id"))
    except ImportError:  # pragma: no cover - the e-code app is part of the project
        pass
    if not others and not uses:
        return False
    details = {
        "city": city,
        "hours": supervision_setting("MULTI_CITY_HOURS"),
        "settlements": [{"number": n, "institution": i, "city": c} for n, i, c in others],
        "uses": [{"event": e, "institution": i, "city": c} for e, i, c in uses],
    }
    return _flag(
        kind=FlagKind.MULTI_CITY,
        key=f"multi_city:{settlement.pk}",
        settlement=settlement,
        person=settlement.person,
        institution=settlement.institution,
        details=details,
    )


def _local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _check_frequent(settlement: Settlement) -> bool:
    day = timezone.localdate(settlement.settled_at)
    start, end = _local_day_bounds(day)
    count = Settlement.objects.filter(
        person_id=settlement.person_id, settled_at__gte=start, settled_at__lt=end
    ).count()
    limit = supervision_setting("MAX_SETTLEMENTS_PER_PERSON_PER_DAY")
    if count <= limit:
        return False
    return _flag(
        kind=FlagKind.FREQUENT,
        key=f"frequent:{settlement.person_id}:{day:%Y%m%d}",
        settlement=settlement,
        person=settlement.person,
        details={"date": day.isoformat(), "count": count, "limit": limit},
    )


def _check_institution_volume(settlement: Settlement) -> bool:
    day = timezone.localdate(settlement.settled_at)
    start, end = _local_day_bounds(day)
    trailing = supervision_setting("INSTITUTION_TRAILING_DAYS")
    counts = Settlement.objects.filter(institution_id=settlement.institution_id).aggregate(
        today=Count("pk", filter=Q(settled_at__gte=start, settled_at__lt=end)),
        before=Count(
            "pk", filter=Q(settled_at__gte=start - dt.timedelta(days=trailing), settled_at__lt=start)
        ),
    )
    today_count = counts["today"]
    average = Decimal(counts["before"]) / trailing
    factor = supervision_setting("INSTITUTION_VOLUME_FACTOR")
    if today_count < supervision_setting("INSTITUTION_VOLUME_MIN") or today_count <= factor * average:
        return False
    return _flag(
        kind=FlagKind.INSTITUTION_VOLUME,
        key=f"volume:{settlement.institution_id}:{day:%Y%m%d}",
        settlement=settlement,
        institution=settlement.institution,
        details={
            "date": day.isoformat(),
            "count": today_count,
            "trailing_average": str(average.quantize(Decimal("0.01"))),
            "factor": factor,
            "trailing_days": trailing,
        },
    )


@transaction.atomic(durable=True)
def flag_review(*, flag: SupervisionFlag, actor, status: str, note: str = "") -> SupervisionFlag:
    """Dismiss or confirm a supervision flag, with an audit row."""
    if status not in (FlagStatus.DISMISSED, FlagStatus.CONFIRMED):
        raise ServiceError(SettlementErrorCode.INVALID_STATUS, _("A flag is either dismissed or confirmed."))
    flag = SupervisionFlag.objects.select_for_update().get(pk=flag.pk)
    before = flag.status
    flag.status = status
    flag.reviewed_at = timezone.now()
    flag.reviewed_by = actor
    flag.review_note = (note or "")[:200]
    flag.save(update_fields=["status", "reviewed_at", "reviewed_by", "review_note"])
    audit_record(
        actor=actor,
        action="supervision.review",
        target=flag,
        from_state=before,
        to_state=status,
        reason=flag.review_note,
    )
    return flag
