"""Celery tasks: the monthly clearing between provinces, and the supervision check of one settlement."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from .models import ClearingStatement
from .services import clearing_build, previous_month, supervision_check

logger = logging.getLogger(__name__)


def _parse_month(month: str | None) -> dt.date:
    if not month:
        return previous_month(timezone.localdate())
    return dt.datetime.strptime(month, "%Y-%m").date().replace(day=1)


def _end(month: dt.date) -> dt.datetime:
    next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(next_month, dt.time.min, tzinfo=timezone.get_current_timezone())


@shared_task(name="settlement.tasks.build_monthly_clearing", acks_late=True, ignore_result=True)
def build_monthly_clearing(month: str | None = None, if_missing: bool = False) -> int:
    """Build the clearing statements of `month` ("YYYY-MM"; default: the previous month). Safe to re-run.

    With `if_missing`, a month with statements built after it ended is left alone: beat sends that a few
    times in the first days of a month, so a run lost while the broker was down is made up.
    """
    month_day = _parse_month(month)
    if (
        if_missing
        and ClearingStatement.objects.filter(month=month_day, built_at__gte=_end(month_day)).exists()
    ):
        return 0
    statements = clearing_build(month=month_day)
    logger.info("clearing built: %d statements", len(statements))
    return len(statements)


@shared_task(name="settlement.tasks.check_supervision", acks_late=True, ignore_result=True)
def check_supervision(settlement_id: int) -> list[str]:
    """Raise supervision flags for one committed settlement; a failure here never touches the settlement.

    Settlements now record their check in the deferred-work outbox (`core.deferred`); this task remains for
    messages queued before that, and for running a check by hand.
    """
    try:
        return supervision_check(settlement_id=settlement_id)
    except Exception:  # a flag is advisory: log, never propagate into the counter's request
        logger.exception("supervision check failed for settlement %s", settlement_id)
        return []
