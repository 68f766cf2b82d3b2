"""The check journal (ecode.journal): verifies recorded through Redis and written to PostgreSQL in batches."""

import json

import pytest
from django.utils import timezone

from core.errors import ServiceError
from ecode import journal
from ecode.models import CodeEvent
from ecode.services import ecode_consume, ecode_verify, token_issue
from ecode.tasks import flush_checks
from tests.workers import Worker, wait_for

from .factories import counter, credential_factory

BASE = "/api/v1/ecode/"


@pytest.fixture
def journal_on(settings):
    settings.ECODE_CHECK_JOURNAL = True
    client = journal._redis()
    client.delete(journal.BUFFER_KEY, journal.DEAD_KEY, journal.LOCK_KEY)
    yield client
    client.delete(journal.BUFFER_KEY, journal.DEAD_KEY, journal.LOCK_KEY)


@pytest.fixture
def operator():
    return counter(region_code="310000")[0]


@pytest.fixture
def credential():
    return credential_factory(name="王建国", insured_region="510100")


@pytest.mark.django_db
def test_a_verify_gets_its_id_at_once_and_its_row_at_the_flush(journal_on, operator, credential):
    before = timezone.now()
    token = token_issue(credential=credential).token
    result = ecode_verify(token=token, operator=operator, api_key=None)
    assert result.valid and result.event_id
    assert not CodeEvent.objects.filter(pk=result.event_id).exists()
    assert journal.waiting() == 1

    assert journal.flush() == 1
    event = CodeEvent.objects.get(pk=result.event_id)
    assert (event.kind, event.result) == ("verify", "ok")
    assert event.institution == operator.institution and event.operator == operator
    assert event.person == credential.person and event.credential == credential
    assert before <= event.created_at <= timezone.now()
    assert event.subject and event.kid and event.token_iat
    assert journal.waiting() == 0 and journal.flush() == 0


@pytest.mark.django_db
def test_a_refused_code_is_journalled_with_its_reason(journal_on, operator):
    result = ecode_verify(token="123", operator=operator)
    assert not result.valid and result.code == "malformed"
    journal.flush()
    event = CodeEvent.objects.get(pk=result.event_id)
    assert event.result == "malformed" and event.person is None and event.institution == operator.institution


@pytest.mark.django_db
def test_uses_and_numbered_verifies_are_written_at_once(journal_on, operator, credential):
    used = ecode_consume(token=token_issue(credential=credential).token, operator=operator)
    numbered = ecode_verify(
        token=token_issue(credential=credential).token, operator=operator, request_no="R-1"
    )
    assert CodeEvent.objects.filter(pk__in=[used.event_id, numbered.event_id]).count() == 2
    assert journal.waiting() == 0
    with pytest.raises(ServiceError) as refused:  # the number is found: it was written, not journalled
        ecode_verify(token="123", operator=operator, request_no="R-1")
    assert refused.value.code == "duplicate_request_no"


@pytest.mark.django_db
def test_the_history_shows_a_check_made_a_moment_ago(journal_on, person_client, counter_client, credential):
    operator, key = counter(region_code="310000")
    counter_client(key).post(
        BASE + "verify", {"token": token_issue(credential=credential).token}, format="json"
    )
    assert journal.waiting() == 1
    body = person_client(credential.person).get(BASE + "history").json()
    assert body["count"] == 1 and body["results"][0]["kind"] == "verify"
    assert body["results"][0]["institution_name"] == operator.institution.name


@pytest.mark.django_db
def test_without_redis_the_check_is_written_directly_and_reads_still_work(
    journal_on, settings, operator, credential, person_client
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    result = ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    assert result.valid and CodeEvent.objects.filter(pk=result.event_id, result="ok").exists()
    body = person_client(credential.person).get(BASE + "history").json()
    assert body["count"] == 1


@pytest.mark.django_db
def test_a_flush_repeated_after_a_crash_writes_no_duplicate(journal_on, operator, credential):
    ids = [
        ecode_verify(token=token_issue(credential=credential).token, operator=operator).event_id for _ in "ab"
    ]
    # A flusher that died after its insert but before trimming the list: the next one meets the same entries.
    journal._insert([journal._decode(raw) for raw in journal_on.lrange(journal.BUFFER_KEY, 0, -1)])
    assert journal.flush() == 2
    assert sorted(CodeEvent.objects.values_list("pk", flat=True)) == sorted(ids)


@pytest.mark.django_db(transaction=True)
def test_an_entry_postgresql_refuses_is_set_aside_and_the_others_written(journal_on, operator, credential):
    first = ecode_verify(token=token_issue(credential=credential).token, operator=operator).event_id
    bad = journal._decode(journal_on.lindex(journal.BUFFER_KEY, 0))
    bad.pk, bad.institution_id = journal.event_id_next(), 2**40  # no such institution
    journal_on.rpush(journal.BUFFER_KEY, journal._encode(bad), b"not json")
    last = ecode_verify(token=token_issue(credential=credential).token, operator=operator).event_id

    assert journal.flush() == 4  # the two refused ones were taken too, and set aside
    assert set(CodeEvent.objects.values_list("pk", flat=True)) == {first, last}
    dead = [json.loads(raw) for raw in journal_on.lrange(journal.DEAD_KEY, 0, -1)]
    reasons = sorted(entry["reason"] for entry in dead)
    assert len(reasons) == 2 and "institution" in reasons[0] and reasons[1].startswith("unreadable")
    assert journal.waiting() == 0


@pytest.mark.django_db
def test_one_flusher_at_a_time(journal_on, operator, credential):
    ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    journal_on.set(journal.LOCK_KEY, "another flusher")
    assert journal.flush() == 0 and journal.waiting() == 1
    journal_on.delete(journal.LOCK_KEY)
    assert journal.flush() == 1


@pytest.mark.django_db
def test_off_every_check_is_written_at_once(settings, operator, credential):
    settings.ECODE_CHECK_JOURNAL = False
    result = ecode_verify(token=token_issue(credential=credential).token, operator=operator)
    assert CodeEvent.objects.filter(pk=result.event_id).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_the_journal(broker, tmp_path, settings, operator, credential):
    settings.ECODE_CHECK_JOURNAL = True
    settings.REDIS_URL = broker.url  # the journal lives where the worker looks
    ids = [
        ecode_verify(token=token_issue(credential=credential).token, operator=operator).event_id
        for _ in "abc"
    ]
    assert not CodeEvent.objects.filter(pk__in=ids).exists()
    worker = Worker(broker=broker, outbox=tmp_path, ECODE_CHECK_JOURNAL="1")
    try:
        flush_checks.delay()
        wait_for(
            lambda: CodeEvent.objects.filter(pk__in=ids).count() == 3,
            what=f"the worker to write the journal\n{worker.log()}",
        )
    finally:
        worker.stop()
    assert journal.waiting() == 0
