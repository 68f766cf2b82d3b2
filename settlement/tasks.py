"""Celery tasks: the monthly clearing between provinces, and the supervision check after each settlement."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from .services import clearing_build, previous_month, supervision_check

logger = logging.getLogger(__name__)


def _parse_month(month: str | None) -> dt.date:
    if not month:
        return previous_month(timezone.localdate())
    return dt.datetime.strptime(month, "%Y-%m").date().replace(day=1)


@shared_task(name="settlement.tasks.build_monthly_clearing", acks_late=True, ignore_result=True)
def build_monthly_clearing(month: str | None = None) -> int:
    """Build the clearing statements of `month` ("YYYY-MM"; default: the previous month). Safe to re-run."""
    statements = clearing_build(month=_parse_month(month))
    logger.info("clearing built: %d statements", len(statements))
    return len(statements)


@shared_task(name="settlement.tasks.check_supervision", acks_late=True, ignore_result=True)
def check_supervision(settlement_id: int) -> list[str]:
    """Raise supervision flags for one committed settlement; a failure here never touches the settlement."""
    try:
        return supervision_check(settlement_id=settlement_id)
    except Exception:  # a flag is advisory: log, never propagate into the counter's request
        logger.exception("supervision check failed for settlement %s", settlement_id)
        return []
