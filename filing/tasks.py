"""Scheduled filing jobs (Celery beat, see CELERY_BEAT_SCHEDULE): expiry and reminders before it."""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from core.errors import ServiceError

from .choices import FilingGroup, FilingStatus
from .dates import today
from .models import Filing
from .services import filing_expire, filing_remind_expiring

logger = logging.getLogger(__name__)


@shared_task
def expire_filings() -> int:
    """Expire every approved temporary filing whose last day has passed. Returns how many were expired."""
    ids = list(
        Filing.objects.filter(status=FilingStatus.APPROVED, end_date__lt=today()).values_list("pk", flat=True)
    )
    expired = 0
    for filing in Filing.objects.filter(pk__in=ids).iterator():
        try:
            filing_expire(filing=filing)
        except ServiceError as exc:  # changed since the query (cancelled, revoked): nothing to do
            logger.info("filing %s not expired: %s", filing.pk, exc)
            continue
        expired += 1
    return expired


@shared_task
def remind_expiring() -> int:
    """Remind people whose temporary filing ends within FILING_EXPIRY_REMINDER_DAYS; once per filing."""
    day = today()
    ids = list(
        Filing.objects.filter(
            status=FilingStatus.APPROVED,
            expiry_reminded_at__isnull=True,
            end_date__gte=day,
            end_date__lte=day + dt.timedelta(days=settings.FILING_EXPIRY_REMINDER_DAYS),
        )
        # An emergency filing records one episode; there is nothing to renew.
        .exclude(group=FilingGroup.EMERGENCY)
        .values_list("pk", flat=True)
    )
    return sum(
        1 for filing in Filing.objects.filter(pk__in=ids).iterator() if filing_remind_expiring(filing=filing)
    )
