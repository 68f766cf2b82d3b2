"""Monthly partitions of the append-only tables on PostgreSQL (core.partitions): made by the migrations, the coming
months created ahead by the beat task, old months archived and dropped after their retention, while every e-code
use stays and stays one per code. SQLite keeps plain tables and the task has nothing to do there."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import threading
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEvent, PartitionArchive
from core.partitions import month_add, month_start, monthly_tables, partition_name
from core.tasks import maintain_partitions
from ecode.models import CodeEvent
from tests.ecode.factories import counter, credential_factory

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")

MONTHLY = ["core_auditevent", "ecode_codeevent_check", "notifications_delivery"]


def _tables(pattern: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind IN ('r', 'p')", [pattern]
        )
        return {name for (name,) in cursor.fetchall()}


def _where(model, pk) -> str:
    """The partition that holds a row."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT tableoid::regclass::text FROM "{model._meta.db_table}" WHERE id = %s', [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _event(**fields) -> CodeEvent:
    operator, _key = counter()
    values = {"kind": "verify", "result": "ok", "institution": operator.institution, "operator": operator}
    return CodeEvent.objects.create(**{**values, **fields})


@postgres_only
@pytest.mark.django_db
def test_the_migrations_partition_the_append_only_tables_and_make_months_ahead():
    assert monthly_tables() == MONTHLY
    this_month = month_start(timezone.now().date())
    for monthly in MONTHLY:
        for ahead in range(4):
            assert partition_name(monthly, month_add(this_month, ahead)) in _tables(f"{monthly}_p%")
    # Uses are a partition of their own, never split by month.
    assert "ecode_codeevent_use" in _tables("ecode_codeevent_use")
    check, use = _event(), _event(kind="consume", subject="s1")
    assert _where(CodeEvent, check.pk) == partition_name("ecode_codeevent_check", this_month)
    assert _where(CodeEvent, use.pk) == "ecode_codeevent_use"


@postgres_only
@pytest.mark.django_db
def test_the_beat_task_creates_the_coming_months_once(settings):
    settings.PARTITION_RETENTION_MONTHS = {}
    later = timezone.now() + dt.timedelta(days=200)
    created = maintain_partitions.apply(kwargs={}).get()["created"]
    assert created == []  # the migrations made this month and the next three
    from core.partitions import partitions_ensure

    made = partitions_ensure(now=later)
    assert partition_name("core_auditevent", month_start(later.date())) in made
    assert len(made) == 3 * 4  # three tables; the months the migration had not reached
    assert partitions_ensure(now=later) == []


@postgres_only
@pytest.mark.django_db
def test_rows_outside_the_partitions_wait_in_the_default_and_move_to_their_month():
    far = timezone.now() + dt.timedelta(days=400)
    event = _event(created_at=far)
    assert _where(CodeEvent, event.pk) == "ecode_codeevent_check_default"
    maintain_partitions.apply(kwargs={}).get()
    assert _where(CodeEvent, event.pk) == partition_name("ecode_codeevent_check", month_start(far.date()))
    assert CodeEvent.objects.get(pk=event.pk).created_at == far


@postgres_only
@pytest.mark.django_db
def test_retention_archives_old_checks_and_audit_months_and_keeps_every_use(settings, tmp_path):
    settings.PARTITION_ARCHIVE_DIR = str(tmp_path)
    settings.PARTITION_RETENTION_MONTHS = {"ecode_codeevent_check": 13, "core_auditevent": 13}
    old = timezone.now() - dt.timedelta(days=450)
    old_checks = [_event(created_at=old, request_no=f"R{i}").pk for i in range(3)]
    old_use = _event(kind="consume", subject="kept", created_at=old)
    recent = _event()
    audit = audit_record(action="test.old", target=recent.institution)
    AuditEvent.objects.filter(pk=audit.pk).update(created_at=old)

    result = maintain_partitions.apply(kwargs={}).get()

    month = month_start(old.date())
    check_partition = partition_name("ecode_codeevent_check", month)
    assert sorted(result["archived"]) == sorted(
        [
            str(tmp_path / "ecode_codeevent_check" / f"{check_partition}.csv.gz"),
            str(tmp_path / "core_auditevent" / f"{partition_name('core_auditevent', month)}.csv.gz"),
        ]
    )
    assert not _tables(check_partition)
    assert not CodeEvent.objects.filter(pk__in=old_checks).exists()
    assert not AuditEvent.objects.filter(pk=audit.pk).exists()
    # The use of that month and this month's check are where they were.
    assert CodeEvent.objects.filter(pk__in=[old_use.pk, recent.pk]).count() == 2
    with gzip.open(tmp_path / "ecode_codeevent_check" / f"{check_partition}.csv.gz", "rt") as archive:
        rows = list(csv.DictReader(archive))
    assert sorted(int(row["id"]) for row in rows) == sorted(old_checks)
    assert {row["request_no"] for row in rows} == {"R0", "R1", "R2"}
    # A second run finds nothing more to do.
    assert maintain_partitions.apply(kwargs={}).get() == {"created": [], "archived": []}


@postgres_only
@pytest.mark.django_db
def test_a_retired_month_leaves_a_record_of_its_file_and_an_audit_event(settings, tmp_path):
    settings.PARTITION_ARCHIVE_DIR = str(tmp_path)
    settings.PARTITION_RETENTION_MONTHS = {"ecode_codeevent_check": 13}
    old = timezone.now() - dt.timedelta(days=450)
    for i in range(4):
        _event(created_at=old, request_no=f"A{i}\nB")  # a newline inside a field: rows are not lines

    maintain_partitions.apply(kwargs={}).get()

    month = month_start(old.date())
    name = partition_name("ecode_codeevent_check", month)
    archive = PartitionArchive.objects.get()
    path = tmp_path / "ecode_codeevent_check" / f"{name}.csv.gz"
    content = path.read_bytes()
    assert (archive.table, archive.month, archive.partition, archive.path) == (
        "ecode_codeevent_check",
        month,
        name,
        str(path),
    )
    assert (archive.rows, archive.size, archive.sha256) == (
        4,
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    with gzip.open(path, "rt") as rows:
        assert len(list(csv.DictReader(rows))) == 4
    (event,) = AuditEvent.objects.filter(action="partition.retire")
    assert event.target == archive
    assert event.actor_id is None and event.actor_label == "system"
    assert event.data == {
        "table": "ecode_codeevent_check",
        "month": f"{month:%Y-%m}",
        "partition": name,
        "path": str(path),
        "rows": 4,
        "bytes": len(content),
        "sha256": archive.sha256,
        "retention_months": 13,
    }


@postgres_only
@pytest.mark.django_db
def test_a_month_retired_again_goes_to_a_new_file_and_the_first_stays(settings, tmp_path):
    settings.PARTITION_ARCHIVE_DIR = str(tmp_path)
    settings.PARTITION_RETENTION_MONTHS = {"ecode_codeevent_check": 13}
    old = timezone.now() - dt.timedelta(days=450)
    _event(created_at=old)
    maintain_partitions.apply(kwargs={}).get()
    first = PartitionArchive.objects.get()
    first_content = Path(first.path).read_bytes()
    # Old rows loaded again: the month is made anew, and retired again.
    _event(created_at=old)
    _event(created_at=old)
    maintain_partitions.apply(kwargs={}).get()

    second = PartitionArchive.objects.exclude(pk=first.pk).get()
    assert second.path.endswith(f"{first.partition}.2.csv.gz") and second.rows == 2
    assert Path(first.path).read_bytes() == first_content
    assert hashlib.sha256(first_content).hexdigest() == first.sha256


@postgres_only
@pytest.mark.django_db
def test_a_request_number_is_still_once_per_institution_across_months_and_kinds():
    old = _event(created_at=timezone.now() - dt.timedelta(days=70), request_no="N-1")
    for kind in ("verify", "consume"):
        with pytest.raises(IntegrityError, match="ecode_request_no_unique"), transaction.atomic():
            _event(
                kind=kind, subject="x", request_no="N-1", institution=old.institution, operator=old.operator
            )
    # Another institution may use the same number.
    assert _event(request_no="N-1").pk


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_uses_of_one_code_at_the_same_moment_in_different_months_one_wins():
    """The one-use index lives on the uses' partition, whatever month each use is dated."""
    credential = credential_factory()
    operator, _key = counter()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(when):
        try:
            barrier.wait()
            with transaction.atomic():
                CodeEvent.objects.create(
                    kind="consume",
                    result="ok",
                    subject="one-code",
                    credential=credential,
                    institution=operator.institution,
                    operator=operator,
                    created_at=when,
                )
            outcomes.append("ok")
        except IntegrityError as exc:
            outcomes.append("refused" if "ecode_one_use_per_code" in str(exc) else str(exc))
        finally:
            connection.close()

    now = timezone.now()
    threads = [threading.Thread(target=use, args=(when,)) for when in (now, now - dt.timedelta(days=40))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]


@pytest.mark.embedded
@pytest.mark.django_db
def test_on_sqlite_the_tables_stay_plain_and_the_task_has_nothing_to_do():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's behaviour")
    assert monthly_tables() == []
    assert maintain_partitions.apply(kwargs={}).get() == {"created": [], "archived": []}
    assert not PartitionArchive.objects.exists()
    assert not AuditEvent.objects.filter(action="partition.retire").exists()
    event = _event(created_at=timezone.now() - dt.timedelta(days=900))
    assert CodeEvent.objects.get(pk=event.pk).created_at == event.created_at
