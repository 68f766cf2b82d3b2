"""Scheduled jobs: temporary filings expire after their last day; people are reminded once before."""

import datetime as dt

import pytest

from filing.choices import FilingGroup, FilingStatus
from filing.dates import today
from filing.models import Filing
from filing.tasks import expire_filings, remind_expiring
from notifications.models import Notification
from tests.factories import person_factory

from .factories import approved, days_ago, policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def area():
    return policy(instant_approval=True, retroactive_days=365)


def test_expire_filings_ends_temporary_filings_past_their_last_day():
    ended = approved(
        person_factory(insured_region="510100"), group=FilingGroup.TEMPORARY, start_date=days_ago(200)
    )
    running = approved(person_factory(insured_region="510100"), group=FilingGroup.TEMPORARY)
    long_term = approved(person_factory(insured_region="510100"), start_date=days_ago(300))
    assert expire_filings.delay().get() == 1
    statuses = dict(Filing.objects.values_list("pk", "status"))
    assert statuses == {
        ended.pk: FilingStatus.EXPIRED,
        running.pk: FilingStatus.APPROVED,
        long_term.pk: FilingStatus.APPROVED,
    }
    notice = Notification.objects.get(event="filing_expired")
    assert (
        notice.context["filing_id"] == ended.pk and notice.context["end_date"] == ended.end_date.isoformat()
    )
    assert expire_filings() == 0


def test_remind_expiring_once_per_filing(settings):
    settings.FILING_EXPIRY_REMINDER_DAYS = 15
    person = person_factory(insured_region="510100")
    # Six months from 170 days ago ends in about 12 days.
    soon = approved(person, group=FilingGroup.TEMPORARY, start_date=days_ago(170))
    later = approved(person_factory(insured_region="510100"), group=FilingGroup.TEMPORARY)
    assert 0 <= (soon.end_date - today()).days <= 15
    assert remind_expiring() == 1
    assert remind_expiring() == 0
    notices = Notification.objects.filter(event="filing_expiring")
    assert notices.count() == 1
    assert notices.get().context["days_left"] == (soon.end_date - today()).days
    later.refresh_from_db()
    assert later.expiry_reminded_at is None


def test_no_reminder_for_long_term_or_emergency_filings():
    approved(person_factory(insured_region="510100"))
    approved(
        person_factory(insured_region="510100"),
        group=FilingGroup.EMERGENCY,
        commitment=False,
        start_date=days_ago(175),
    )
    assert remind_expiring() == 0


def test_expired_filing_is_not_in_force_and_a_new_one_can_follow():
    from filing.selectors import filing_in_force

    person = person_factory(insured_region="510100")
    ended = approved(person, group=FilingGroup.TEMPORARY, start_date=days_ago(200))
    expire_filings()
    assert filing_in_force(person=person) is None
    follow_up = approved(person, group=FilingGroup.TEMPORARY, start_date=today() + dt.timedelta(days=1))
    assert follow_up.status == FilingStatus.APPROVED and ended.pk != follow_up.pk
