"""Two submissions at the same moment on PostgreSQL: one filing goes through, the other gets a clear error; and
the database itself refuses what the services would."""

import datetime as dt
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction

from core.errors import ServiceError
from filing.choices import FilingStatus
from filing.dates import today
from filing.models import Filing
from filing.services import filing_submit
from tests.factories import person_factory

from .factories import draft, policy

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


@pytest.fixture
def committed_db():
    """A transactional test: the migrated data (regions, default policy) is restored before it, and the
    content-type cache is emptied after it, because the flush that ends it leaves no content types behind."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def run_together(*calls):
    """Run the calls in threads released at once; returns each one's result or ServiceError."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except ServiceError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("instant", [False, True])
def test_two_parallel_submissions_give_one_filing_and_one_clear_error(committed_db, instant):
    policy(instant_approval=instant)
    person = person_factory(insured_region="510100")
    beijing = draft(person)
    shanghai = draft(person, destination="310000")

    results = run_together(
        lambda: filing_submit(filing=beijing, actor=person.user),
        lambda: filing_submit(filing=shanghai, actor=person.user),
    )

    errors = [r for r in results if isinstance(r, ServiceError)]
    assert len(errors) == 1 and errors[0].code == "overlapping_filing" and errors[0].status_code == 409
    expected = FilingStatus.APPROVED if instant else FilingStatus.SUBMITTED
    assert Filing.objects.filter(person=person, status=expected).count() == 1
    assert Filing.objects.filter(person=person, status=FilingStatus.DRAFT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_draft_submitted_twice_at_once_is_submitted_once(committed_db):
    policy(instant_approval=False)
    person = person_factory(insured_region="510100")
    filing = draft(person)

    results = run_together(
        lambda: filing_submit(filing=filing, actor=person.user, idempotency_key="tap"),
        lambda: filing_submit(filing=filing, actor=person.user, idempotency_key="tap"),
    )

    assert all(not isinstance(r, ServiceError) for r in results), results
    assert {r.pk for r in results} == {filing.pk}
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SUBMITTED


@pytest.mark.django_db
def test_database_allows_one_filing_under_review_per_scheme():
    policy(instant_approval=False)
    person = person_factory(insured_region="510100")
    filing_submit(filing=draft(person), actor=person.user)
    second = Filing.objects.get(status=FilingStatus.SUBMITTED)
    second.pk, second.serial, second.idempotency_key = None, "BA-COPY", None
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


@pytest.mark.django_db
def test_database_refuses_overlapping_approved_filings():
    policy(instant_approval=True)
    person = person_factory(insured_region="510100")
    first = filing_submit(filing=draft(person), actor=person.user)
    assert first.status == FilingStatus.APPROVED
    copy = Filing.objects.get(pk=first.pk)
    copy.pk, copy.serial, copy.idempotency_key, copy.destination_id = None, "BA-COPY", None, "310000"
    copy.start_date = today() + dt.timedelta(days=30)
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
