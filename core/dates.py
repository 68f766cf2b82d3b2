"""Today, as the service counts days: in its time zone (Asia/Shanghai), not UTC."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def today() -> dt.date:
    """Today in the service's time zone (Asia/Shanghai)."""
    return timezone.localdate()
