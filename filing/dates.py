"""Calendar arithmetic for filings: validity in months and review deadlines in working days."""

from __future__ import annotations

import calendar
import datetime as dt

from core.dates import today as today  # the one "today"; filing's callers have always found it here


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validity_end(start: dt.date, months: int) -> dt.date:
    """The last day of a validity of `months` months that starts on `start` (both days included)."""
    return add_months(start, months) - dt.timedelta(days=1)


def working_days_after(start: dt.date, days: int) -> dt.date:
    """The date `days` working days after `start`: Monday to Friday, except listed holidays, plus listed
    make-up working days (调休)."""
    from .models import Holiday

    # Generous window: no run of holidays in China is longer than the ten-day Spring Festival break.
    horizon = start + dt.timedelta(days=days * 2 + 30)
    exceptions = dict(
        Holiday.objects.filter(date__gt=start, date__lte=horizon).values_list("date", "is_working_day")
    )
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        working = exceptions.get(day, day.weekday() < 5)
        if working:
            left -= 1
    return day
