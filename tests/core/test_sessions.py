"""Web sessions: expired ones are deleted every night by Celery beat."""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.tasks import clear_sessions

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_beat_deletes_expired_sessions_every_night_and_keeps_live_ones():
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "core.tasks.clear_sessions"
    )
    assert entry["schedule"].remaining_estimate(timezone.now()) <= dt.timedelta(days=1)
    live, expired = SessionStore(), SessionStore()
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    clear_sessions.apply()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
