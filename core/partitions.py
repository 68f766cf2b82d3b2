"""Monthly range partitions of the append-only tables on PostgreSQL: turning a table into one (for migrations),
creating the coming months ahead, and retiring months past their retention to compressed archives.

SQLite (the embedded default) keeps plain tables: every function here does nothing there. A table is named by
its database name only, so that this module knows no app; the apps' migrations say which tables are partitioned
and how, and the settings say how long each keeps its months (``PARTITION_RETENTION_MONTHS``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.utils import timezone

from .audit import audit_record
from .models import PartitionArchive

logger = logging.getLogger(__name__)

MONTH_NAME = re.compile(r"_p(\d{4})_(\d{2})$")


@dataclass(frozen=True)
class Layout:
    """How a table is partitioned. ``time`` is the column of its months; with ``split``, the table is first
    split by ``split`` (a column) into ``kept`` (a list partition of ``kept_values``, never partitioned by month
    and never retired) and ``monthly`` (a list partition of ``monthly_values``, partitioned by month); without
    it, the table itself is partitioned by month (and ``monthly`` is its own name)."""

    table: str
    time: str
    split: str | None = None
    kept: str | None = None
    kept_values: tuple[str, ...] = ()
    monthly_values: tuple[str, ...] = ()

    @property
    def monthly(self) -> str:
        return f"{self.table}_check" if self.split else self.table

    @property
    def key(self) -> tuple[str, ...]:
        return ("id", self.split, self.time) if self.split else ("id", self.time)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def partition_name(monthly: str, month: dt.date) -> str:
    return f"{monthly}_p{month:%Y_%m}"


def _bound(month: dt.date) -> str:
    return f"{month:%Y-%m-%d} 00:00:00+00"


def _list(values) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def _rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _describe(cursor, table: str) -> dict:
    """The indexes and constraints of a plain table, and the foreign keys that point at it."""
    indexes = _rows(
        cursor,
        "SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisunique FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)",
        [table],
    )
    constraints = _rows(
        cursor,
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname",
        [table],
    )
    incoming = _rows(
        cursor,
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE confrelid = %s::regclass AND contype = 'f' AND conrelid <> confrelid ORDER BY conname",
        [table],
    )
    return {"indexes": indexes, "constraints": constraints, "incoming": incoming}


def _on(definition: str, table: str, target: str) -> str:
    """An index definition moved from ``table`` to ``target``."""
    return re.sub(rf" ON (ONLY )?(\S+\.)?\"?{table}\"? ", f' ON "{target}" ', definition, count=1)


def _columns(cursor, table: str) -> str:
    names = _rows(
        cursor,
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum",
        [table],
    )
    return ", ".join(f'"{name}"' for (name,) in names)


def _take_over(cursor, old: str, new: str) -> None:
    """Move the rows of ``old`` into ``new`` and keep the id sequence going."""
    columns = _columns(cursor, old)
    cursor.execute(f'INSERT INTO "{new}" ({columns}) SELECT {columns} FROM "{old}"')  # noqa: S608
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('\"{new}\"', 'id'), coalesce(max(id), 0) + 1, false)"  # noqa: S608
        f' FROM "{new}"'
    )


def _rename_sequence(cursor, table: str) -> None:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [f'"{table}"'])
    (sequence,) = cursor.fetchone()
    if sequence and sequence.split(".")[-1].strip('"') != f"{table}_id_seq":
        cursor.execute(f'ALTER SEQUENCE {sequence} RENAME TO "{table}_id_seq"')


def table_partition(schema_editor, layout: Layout, *, months_ahead: int | None = None) -> None:
    """Turn a plain table into a partitioned one with the same name, columns, rows, indexes and foreign keys
    (a migration step; PostgreSQL only).

    A primary or unique key of a partitioned table must hold its partition key, so: the primary key becomes
    (id, [split], time); a unique index or constraint moves to the ``kept`` partition when there is one (it
    then holds within it, whatever its age), else the time column is added to it (the caller makes sure that
    rows it must keep apart share their time); foreign keys that point at the table point at ``kept``, which
    gets a unique id of its own. The old definitions are kept in the table's comment for ``table_unpartition``.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    t, old = layout.table, f"{layout.table}__plain"
    with schema_editor.connection.cursor() as cursor:
        before = _describe(cursor, t)
        if before["incoming"] and not layout.kept:
            raise RuntimeError(f"{t}: foreign keys point at it, and it has no kept partition for them")
        cursor.execute(f'ALTER TABLE "{t}" RENAME TO "{old}"')
        strategy = f'LIST ("{layout.split}")' if layout.split else f'RANGE ("{layout.time}")'
        cursor.execute(
            f'CREATE TABLE "{t}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS'
            f" INCLUDING STORAGE) PARTITION BY {strategy}"
        )
        if layout.split:
            cursor.execute(
                f'CREATE TABLE "{layout.kept}" PARTITION OF "{t}" FOR VALUES IN ({_list(layout.kept_values)})'
            )
            cursor.execute(
                f'CREATE TABLE "{layout.monthly}" PARTITION OF "{t}"'
                f' FOR VALUES IN ({_list(layout.monthly_values)}) PARTITION BY RANGE ("{layout.time}")'
            )
        cursor.execute(f'CREATE TABLE "{layout.monthly}_default" PARTITION OF "{layout.monthly}" DEFAULT')
        cursor.execute(f'SELECT min("{layout.time}") FROM "{old}"')  # noqa: S608
        (first,) = cursor.fetchone()
        now = timezone.now()
        months = _months_wanted(first or now, now, months_ahead)
        for month in months:
            _partition_create(cursor, layout.monthly, month)
        _take_over(cursor, old, t)
        cursor.execute(f'DROP TABLE "{old}" CASCADE')
        _rename_sequence(cursor, t)
        key = ", ".join(f'"{column}"' for column in layout.key)
        cursor.execute(f'ALTER TABLE "{t}" ADD CONSTRAINT "{t}_pkey" PRIMARY KEY ({key})')
        for _name, definition, unique in before["indexes"]:
            if unique and layout.kept:
                cursor.execute(_on(definition, t, layout.kept))
            elif unique:
                cursor.execute(re.sub(r"\)( WHERE .*)?$", rf', "{layout.time}")\1', definition, count=1))
            else:
                cursor.execute(definition)
        for name, kind, definition in before["constraints"]:
            if kind == "u" and layout.kept:
                cursor.execute(f'ALTER TABLE "{layout.kept}" ADD CONSTRAINT "{name}" {definition}')
            elif kind == "u":
                widened = re.sub(r"\)$", f', "{layout.time}")', definition, count=1)
                cursor.execute(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {widened}')
            elif kind == "f":
                cursor.execute(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {definition}')
        if before["incoming"]:
            cursor.execute(f'ALTER TABLE "{layout.kept}" ADD CONSTRAINT "{layout.kept}_id_key" UNIQUE ("id")')
        for source, name, definition in before["incoming"]:
            pointed = re.sub(rf'REFERENCES (\S+\.)?"?{t}"?\(', f'REFERENCES "{layout.kept}"(', definition)
            cursor.execute(f'ALTER TABLE {source} ADD CONSTRAINT "{name}" {pointed}')
        comment = json.dumps(before).replace("'", "''")  # COMMENT takes no parameters
        cursor.execute(f"COMMENT ON TABLE \"{t}\" IS '{comment}'")


def table_unpartition(schema_editor, layout: Layout) -> None:
    """Undo ``table_partition``: a plain table again, with every row of the attached partitions and the
    definitions it had before."""
    if schema_editor.connection.vendor != "postgresql":
        return
    t, old = layout.table, f"{layout.table}__partitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [t])
        before = json.loads(cursor.fetchone()[0])
        cursor.execute(f'ALTER TABLE "{t}" RENAME TO "{old}"')
        cursor.execute(
            f'CREATE TABLE "{t}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS'
            " INCLUDING STORAGE)"
        )
        _take_over(cursor, old, t)
        cursor.execute(f'DROP TABLE "{old}" CASCADE')
        _rename_sequence(cursor, t)
        for name, _kind, definition in before["constraints"]:
            cursor.execute(f'ALTER TABLE "{t}" ADD CONSTRAINT "{name}" {definition}')
        for _name, definition, _unique in before["indexes"]:
            cursor.execute(definition)
        for source, name, definition in before["incoming"]:
            cursor.execute(f'ALTER TABLE {source} ADD CONSTRAINT "{name}" {definition}')


# --- Months ahead -----------------------------------------------------------------------------------------


def _months_wanted(first: dt.datetime, now: dt.datetime, months_ahead: int | None) -> list[dt.date]:
    ahead = settings.PARTITION_MONTHS_AHEAD if months_ahead is None else months_ahead
    month, last = month_start(first.date()), month_add(month_start(now.date()), ahead)
    months = []
    while month <= last:
        months.append(month)
        month = month_add(month, 1)
    return months


def _partition_create(cursor, monthly: str, month: dt.date) -> bool:
    """Create the month's partition unless it exists; rows of that month already in the default partition
    move into it. Returns whether it was created."""
    name = partition_name(monthly, month)
    cursor.execute("SELECT to_regclass(%s)", [f'"{name}"'])
    if cursor.fetchone()[0] is not None:
        return False
    low, high = _bound(month), _bound(month_add(month, 1))
    column = _range_column(cursor, monthly)
    default = f"{monthly}_default"
    cursor.execute(
        f'SELECT EXISTS (SELECT 1 FROM "{default}" WHERE "{column}" >= %s AND "{column}" < %s)',  # noqa: S608
        [low, high],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(
            f"CREATE TABLE \"{name}\" PARTITION OF \"{monthly}\" FOR VALUES FROM ('{low}') TO ('{high}')"
        )
        return True
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{monthly}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    columns = _columns(cursor, monthly)
    where = f'"{column}" >= %s AND "{column}" < %s'
    cursor.execute(
        f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{default}" WHERE {where}',  # noqa: S608
        [low, high],
    )
    cursor.execute(f'DELETE FROM "{default}" WHERE {where}', [low, high])  # noqa: S608
    cursor.execute(
        f"ALTER TABLE \"{monthly}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{low}') TO ('{high}')"
    )
    return True


def _range_column(cursor, monthly: str) -> str:
    cursor.execute("SELECT pg_get_partkeydef(%s::regclass)", [f'"{monthly}"'])
    (key,) = cursor.fetchone()
    match = re.fullmatch(r"RANGE \((\w+)\)", key)
    if match is None:
        raise RuntimeError(f"{monthly} is not partitioned by a range of one column: {key}")
    return match.group(1)


def monthly_tables(connection=None) -> list[str]:
    """The tables partitioned by month in this database (none on SQLite)."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        rows = _rows(
            cursor,
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE p.partstrat = 'r' AND c.relnamespace = current_schema()::regnamespace ORDER BY c.relname",
        )
    return [name for (name,) in rows]


def _months_in_default(monthly: str) -> list[dt.date]:
    """Months with rows in the default partition (rows older or newer than the partitions when written)."""
    with default_connection.cursor() as cursor:
        column = _range_column(cursor, monthly)
        rows = _rows(
            cursor,
            f"SELECT DISTINCT date_trunc('month', \"{column}\" AT TIME ZONE 'UTC')::date"  # noqa: S608
            f' FROM "{monthly}_default"',
        )
    return [month for (month,) in rows]


def partitions_ensure(
    *, now: dt.datetime | None = None, months_ahead: int | None = None, since: dt.datetime | None = None
) -> list[str]:
    """Create the partitions of this month (or from ``since``'s, to load older rows) to the next
    ``PARTITION_MONTHS_AHEAD`` months of every monthly table where missing, and of any month whose rows wait in
    the default partition; idempotent. Returns the names created."""
    now = now or timezone.now()
    created = []
    for monthly in monthly_tables():
        wanted = _months_wanted(min(since or now, now), now, months_ahead)
        months = sorted(set(wanted) | set(_months_in_default(monthly)))
        for month in months:
            with transaction.atomic(), default_connection.cursor() as cursor:
                if _partition_create(cursor, monthly, month):
                    created.append(partition_name(monthly, month))
    return created


# --- Retention ----------------------------------------------------------------------------------------------


def _partitions(cursor, monthly: str) -> list[tuple[str, dt.date, bool]]:
    """The month partitions of a monthly table, attached or left detached by an interrupted retirement:
    (name, month, attached)."""
    rows = _rows(
        cursor,
        "SELECT c.relname, c.relispartition FROM pg_class c WHERE c.relkind = 'r'"
        " AND c.relnamespace = current_schema()::regnamespace AND c.relname LIKE %s ORDER BY c.relname",
        [monthly.replace("_", r"\_") + r"\_p____\___"],
    )
    found = []
    for name, attached in rows:
        match = MONTH_NAME.search(name)
        if match:
            found.append((name, dt.date(int(match[1]), int(match[2]), 1), attached))
    return found


def archive_dir() -> Path:
    return Path(settings.PARTITION_ARCHIVE_DIR)


def partitions_retire(*, now: dt.datetime | None = None) -> list[Path]:
    """Detach every month partition older than its table's retention (``PARTITION_RETENTION_MONTHS``, by
    monthly table; a table without one keeps every month), write its rows to a gzip'd CSV file under
    ``PARTITION_ARCHIVE_DIR``, then drop it. The file is complete before the table is dropped, and the drop
    commits together with its ``PartitionArchive`` row and its audit event: an interrupted run leaves a detached
    table that the next run archives, never a dropped month without its record. Returns the files written."""
    now = now or timezone.now()
    retention = settings.PARTITION_RETENTION_MONTHS
    written = []
    for monthly in monthly_tables():
        months = retention.get(monthly)
        if not months:
            continue
        oldest_kept = month_add(month_start(now.astimezone(dt.UTC).date()), -months)
        with default_connection.cursor() as cursor:
            partitions = _partitions(cursor, monthly)
        for name, month, attached in partitions:
            if month >= oldest_kept:
                continue
            if attached:
                with default_connection.cursor() as cursor:
                    cursor.execute(f'ALTER TABLE "{monthly}" DETACH PARTITION "{name}"')
            archive = _archive(monthly, name, month)
            with transaction.atomic():
                with default_connection.cursor() as cursor:
                    cursor.execute(f'DROP TABLE "{name}"')
                archive.save()
                audit_record(
                    actor=None,
                    actor_label="system",
                    action="partition.retire",
                    target=archive,
                    data={
                        "table": monthly,
                        "month": f"{month:%Y-%m}",
                        "partition": name,
                        "path": archive.path,
                        "rows": archive.rows,
                        "bytes": archive.size,
                        "sha256": archive.sha256,
                        "retention_months": months,
                    },
                )
            written.append(Path(archive.path))
            logger.info("partition %s retired to %s (%d rows)", name, archive.path, archive.rows)
    return written


class _HashingWriter:
    """A binary file that also hashes and counts what is written to it (under gzip: the compressed bytes)."""

    def __init__(self, out) -> None:
        self.out, self.sha256, self.size = out, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def _archive_path(monthly: str, name: str) -> Path:
    """``<archive dir>/<monthly>/<name>.csv.gz``; a month retired once already (its old rows loaded again
    later) goes to ``<name>.2.csv.gz`` and so on, so that no recorded archive is overwritten."""
    directory = archive_dir() / monthly
    path, again = directory / f"{name}.csv.gz", 1
    while PartitionArchive.objects.filter(path=str(path)).exists():
        again += 1
        path = directory / f"{name}.{again}.csv.gz"
    return path


def _archive(monthly: str, name: str, month: dt.date) -> PartitionArchive:
    """Write a detached partition's rows to its archive file (a whole file or none); returns the record of it,
    not yet saved."""
    path = _archive_path(monthly, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".gz.partial")
    with default_connection.cursor() as cursor:
        # The table is detached: nothing writes to it any more, so the count is the file's.
        cursor.execute(f'SELECT count(*) FROM "{name}"')  # noqa: S608
        (rows,) = cursor.fetchone()
        with open(partial, "wb") as raw_out:
            hashing = _HashingWriter(raw_out)
            with gzip.GzipFile(filename=path.stem, mode="wb", fileobj=hashing) as out:
                raw = cursor.cursor  # the driver's cursor: Django's has no COPY
                with raw.copy(f'COPY "{name}" TO STDOUT WITH (FORMAT csv, HEADER)') as copy:
                    for chunk in copy:
                        out.write(chunk)
            raw_out.flush()
            os.fsync(raw_out.fileno())
    partial.replace(path)
    return PartitionArchive(
        table=monthly,
        month=month,
        partition=name,
        path=str(path),
        rows=rows,
        size=hashing.size,
        sha256=hashing.sha256.hexdigest(),
    )
