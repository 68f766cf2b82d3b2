"""Benchmark the e-code's checks and the admin over a large event table against the same at 1k events.

Run from the repository root: ``.venv/bin/python bench/bench_large_tables.py [--events N] [--json PATH]``
(``make bench`` does, with ``BENCH_LARGE_EVENTS``). Needs PostgreSQL and Redis as ``bench_ecode_http.py``.

What it does: creates and migrates its own database ``yibao_bench_large`` (BENCH_LARGE_DATABASE_NAME; the code
event table is partitioned by month there as in production), seeds the hospital, counter and people of the HTTP
benchmark, and measures in this process, with the production-like settings ``config.settings.bench``:

- ``verify``: the counter check (``ecode.services.ecode_verify``: one statement that reads the credential, its
  filings and the code's use and inserts the check), per call;
- the admin changelists of the code events (default range, checks only, one institution's), of the audit trail,
  and the person's history API, per request, through Django's test client;

first with about 1,000 code events, then after loading ``--events`` checks made with ``generate_series`` (a
quarter in each of the last four monthly partitions, this month's included; loaded as a bulk load is, each
month into a table of its own, frozen, with its indexes built afterwards and then attached as the month's
partition, in two connections side by side; see ``load``), ``ANALYZE`` and a checkpoint, then with about 1,000
events again. The insert rate of the production path (all
indexes and triggers of this month's partition) is measured before the load and after each month.
Results are medians and p99 of alternating repeats; the goals (issue 17) are verify within 1.2× and each page
within 1.5× of the 1k case, a steady insert rate, and the whole run under 15 minutes at 100 million events.
Each run starts from an empty event table and leaves one behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("BENCH_DATABASE_NAME", os.environ.get("BENCH_LARGE_DATABASE_NAME", "yibao_bench_large"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import bench_ecode_http as http  # noqa: E402  (reads BENCH_DATABASE_NAME when imported)

DAYS = 90


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 3),
    }


def _events_total(cursor) -> int:
    cursor.execute("SELECT count(*) FROM ecode_codeevent")
    return cursor.fetchone()[0]


MONTHS = 4  # the current month and the three before it, one quarter of the loaded checks in each
MONTHLY = "ecode_codeevent_check"  # the partitioned table of checks (uses sit in a partition of their own)


def _copy_columns() -> tuple[str, str]:
    """The columns of a code event but its id, and the expressions that make a check copied from the template
    row ``e`` at ``g`` seconds (a float) after ``%(low)s``: a check of a code of nobody on file."""
    from ecode.models import CodeEvent

    columns = [f.column for f in CodeEvent._meta.concrete_fields if not f.primary_key]
    overrides = {
        "created_at": "%(low)s::timestamptz + g * %(step)s * interval '1 second'",
        "person_id": "NULL",
        "credential_id": "NULL",
        "request_no": "''",
        "result": "'unknown_subject'",
    }
    return ", ".join(f'"{c}"' for c in columns), ", ".join(overrides.get(c, f'e."{c}"') for c in columns)


def _template_id(cursor) -> int:
    cursor.execute("SELECT min(id) FROM ecode_codeevent WHERE kind = 'verify'")
    return cursor.fetchone()[0]


def top_up(target: int) -> None:
    """Top the code events up to ``target`` (a small number) with checks of the last minute, through the
    parent table like any insert."""
    from django.db import connection, transaction
    from django.utils import timezone

    names, values = _copy_columns()
    with transaction.atomic(), connection.cursor() as cursor:
        rows = target - _events_total(cursor)
        if rows > 0:
            cursor.execute(
                f"INSERT INTO ecode_codeevent ({names}) SELECT {values}"  # noqa: S608
                " FROM ecode_codeevent e, generate_series(1, %(rows)s) AS g WHERE e.id = %(template)s",
                {
                    "low": timezone.now() - timezone.timedelta(minutes=1),
                    "step": 60 / rows,
                    "rows": rows,
                    "template": _template_id(cursor),
                },
            )


PROBE_ROWS = 100_000


def insert_rate(rows: int = PROBE_ROWS) -> dict:
    """The production insert path's rate: ``rows`` checks of now, in one statement through the parent table,
    into this month's partition with all of its indexes and triggers (the same work per row as a counter's
    check pays in its statement, without the round trips); the rows stay."""
    from django.db import connection, transaction
    from django.utils import timezone

    names, values = _copy_columns()
    with connection.cursor() as cursor:
        # Over the last second, a microsecond or more apart, as checks arrive (not all at one instant).
        params = {
            "low": timezone.now() - timezone.timedelta(seconds=1),
            "step": 1 / rows,
            "rows": rows,
            "template": _template_id(cursor),
        }
        started = time.perf_counter()
        with transaction.atomic():
            cursor.execute(
                f"INSERT INTO ecode_codeevent ({names}) SELECT {values}"  # noqa: S608
                " FROM ecode_codeevent e, generate_series(1, %(rows)s) AS g WHERE e.id = %(template)s",
                params,
            )
        seconds = time.perf_counter() - started
        total = _events_total(cursor)
    print(f"   insert rate at {total:,} events: {rows / seconds:,.0f} rows/s", flush=True)
    return {"total": total, "rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _index_statements(cursor, table: str, stage: str) -> tuple[list[str], list[str]]:
    """The statements that build on ``stage`` the indexes and key of the partition ``table`` (names chosen by
    PostgreSQL), so that ``ATTACH PARTITION`` finds them all and builds none: the index builds, which may run
    side by side, and the definitions of those that become the primary key afterwards (``_key_add``)."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid), c.contype = 'p' FROM pg_index i"
        " LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid"
        " WHERE i.indrelid = %s::regclass",
        [f'"{table}"'],
    )
    builds, keys = [], []
    for index, primary in cursor.fetchall():
        build = re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ", rf'CREATE \1INDEX ON "{stage}" ', index)
        builds.append(build)
        # The key is built as a unique index, then made the key (ALTER TABLE would lock out the other builds).
        if primary:
            keys.append(build.partition(f'"{stage}" ')[2])
    return builds, keys


def _key_add(cursor, stage: str, definition: str) -> None:
    """Make the unique index of ``stage`` built as ``definition`` (``USING btree (...)``) its primary key."""
    cursor.execute(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass AND indisunique"
        " AND pg_get_indexdef(indexrelid) LIKE %s",
        [f'"{stage}"', "% " + definition.replace("%", r"\%")],
    )
    cursor.execute(f'ALTER TABLE "{stage}" ADD PRIMARY KEY USING INDEX {cursor.fetchone()[0]}')


WORKERS = 2  # connections that load side by side (one per core of the machines we measure on)


def _job(sql: str, params: dict | None = None) -> float:
    """Run one statement of the load in this thread's own connection (closed afterwards); its seconds."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            # Each build sorts in memory, alone on its core (the other connection has the other one).
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET max_parallel_maintenance_workers = 0")
            started = time.perf_counter()
            cursor.execute(sql, params)
            return time.perf_counter() - started
    finally:
        connection.close()


def _side_by_side(jobs: list[tuple[str, dict | None]]) -> float:
    """Run the statements ``jobs`` in WORKERS connections at once, in their order; the seconds it took."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(_job, sql, params) for sql, params in jobs]:
            future.result()
    return time.perf_counter() - started


def load(target: int) -> dict:
    """Load checks made with ``generate_series`` until there are ``target`` code events, one quarter in each of
    the last four months (this month's between its first day and now), the way a bulk load into PostgreSQL is
    done (pg_restore's order): per month, the rows go into a new table without indexes, are frozen (as
    ``COPY FREEZE`` would write them, so that neither the measures' first reads, which would set each row's
    hint bits, nor autovacuum write the loaded months while they are measured), its indexes
    are built afterwards by sorting, and the table then takes the place of the month's partition (the rows
    already there copied over first) by ``ATTACH PARTITION``, which checks that every row belongs to the
    month. The inserts and the index builds run in two connections side by side (``WORKERS``). The insert rate
    of the production path is measured before the first month and after each one, with nothing else running.
    Returns the months' timings and those rates."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.partitions import month_add, month_start, partition_name, partitions_ensure

    now = timezone.now()
    this_month = month_start(now.astimezone(dt.UTC).date())
    months = [month_add(this_month, -back) for back in range(MONTHS - 1, -1, -1)]
    partitions_ensure(since=_midnight(months[0]))
    names, values = _copy_columns()
    with connection.cursor() as cursor:
        # The insert rate is measured after each month with rows that stay: they count toward the target.
        to_load = max(0, target - _events_total(cursor) - PROBE_ROWS * (MONTHS + 1))
        template = _template_id(cursor)
        # The root's identity column gives the ids; the stage table, not yet a partition, has no default.
        cursor.execute("SELECT pg_get_serial_sequence('ecode_codeevent', 'id')")
        ids = cursor.fetchone()[0]
    rates = [insert_rate()]
    timings = []
    for index, month in enumerate(months):
        rows = to_load // MONTHS + (to_load % MONTHS if index == MONTHS - 1 else 0)
        low, high = _midnight(month), _midnight(month_add(month, 1))
        span = (min(now, high) - low).total_seconds()
        name, stage = partition_name(MONTHLY, month), f"bench_stage_{month:%Y_%m}"
        timing: dict = {"month": f"{month:%Y-%m}", "rows": rows}
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{stage}"')
            cursor.execute(f'CREATE TABLE "{stage}" (LIKE "{name}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
            insert = (
                f'INSERT INTO "{stage}" ("id", {names}) SELECT %(base)s + g, {values}'  # noqa: S608
                " FROM ecode_codeevent e, generate_series(%(first)s, %(last)s) AS g WHERE e.id = %(template)s"
            )
            # The month's ids taken from the root's sequence at once (not a nextval per row, which the two
            # inserts would queue for): nothing else inserts into this database while the load runs.
            cursor.execute("SELECT nextval(%s)", [ids])
            base = cursor.fetchone()[0]
            cursor.execute("SELECT setval(%s, %s)", [ids, base + max(rows, 1) - 1])
            params = {"base": base, "low": low, "step": span / max(rows, 1), "template": template}
            bounds = [rows * part // WORKERS for part in range(WORKERS + 1)]
            timing["insert_s"] = round(
                _side_by_side(
                    [
                        (insert, {**params, "first": first, "last": end - 1})
                        for first, end in itertools.pairwise(bounds)
                    ]
                ),
                1,
            )
            started = time.perf_counter()
            cursor.execute(f'VACUUM (FREEZE) "{stage}"')
            timing["freeze_s"] = round(time.perf_counter() - started, 1)
            builds, keys = _index_statements(cursor, name, stage)
            started = time.perf_counter()
            _side_by_side([(sql, None) for sql in builds])
            for definition in keys:
                _key_add(cursor, stage, definition)
            timing["index_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            with transaction.atomic():
                cursor.execute(f'INSERT INTO "{stage}" SELECT * FROM "{name}"')  # noqa: S608
                cursor.execute(f'ALTER TABLE "{MONTHLY}" DETACH PARTITION "{name}"')
                cursor.execute(f'DROP TABLE "{name}"')
                cursor.execute(f'ALTER TABLE "{stage}" RENAME TO "{name}"')
                cursor.execute(
                    f'ALTER TABLE "{MONTHLY}" ATTACH PARTITION "{name}"'
                    f" FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
                )
            timing["attach_s"] = round(time.perf_counter() - started, 1)
        print(f"   {timing}", flush=True)
        timings.append(timing)
        rates.append(insert_rate())
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("ANALYZE ecode_codeevent")
        print(f"   ANALYZE {time.perf_counter() - started:.1f} s", flush=True)
    _settle()
    return {"months": timings, "insert_rates": rates}


def _settle() -> None:
    """Write out what a load or an emptying of the table left in memory (a checkpoint), so that the measures
    that follow do not share the disk and the cores with the checkpointer; skipped without the privilege."""
    from django.db import DatabaseError, connection

    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as exc:
        print(f"   no CHECKPOINT ({exc}); measuring without it", flush=True)
        return
    print(f"   CHECKPOINT {time.perf_counter() - started:.1f} s", flush=True)


def _first_check() -> None:
    """One real check, the row the loaded ones are copied from."""
    from accounts.models import User
    from accounts.services import person_get_by_phone
    from ecode.models import Credential
    from ecode.services import ecode_verify, token_issue

    credential = Credential.objects.get(person=person_get_by_phone(http.PEOPLE["local"][0]))
    token = token_issue(credential=credential).token
    assert ecode_verify(token=token, operator=User.objects.get(username="bench-counter")).valid


def measure(*, repeats: int, verifies: int) -> dict:
    """Verify timings and page timings, alternating the measures."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from accounts.services import person_get_by_phone
    from accounts.tokens import auth_token_issue
    from ecode.models import Credential
    from ecode.services import ecode_verify, token_issue

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    operator = User.objects.get(username="bench-counter")
    person = person_get_by_phone(http.PEOPLE["local"][0])
    credential = Credential.objects.get(person=person)
    admin = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        username="bench-admin", password=http.PERSON_PASSWORD
    )
    staff = Client()
    staff.force_login(admin)
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {auth_token_issue(user=person.user)}")
    institution = operator.institution.code
    pages = {
        "admin: e-code events (last month)": (staff, reverse("admin:ecode_codeevent_changelist")),
        "admin: e-code checks": (staff, reverse("admin:ecode_codeevent_changelist") + "?kind=verify"),
        "admin: one institution's events": (
            staff,
            reverse("admin:ecode_codeevent_changelist") + f"?q={institution}",
        ),
        "admin: audit trail": (staff, reverse("admin:core_auditevent_changelist")),
        "person's e-code history": (reader, reverse("api:ecode-history")),
    }
    timings: dict[str, list[float]] = {"verify": [], **{name: [] for name in pages}}
    for client, url in pages.values():  # warm the caches
        assert client.get(url).status_code == 200, url
    per_round = max(1, verifies // repeats)
    for _ in range(repeats):
        token = token_issue(credential=credential).token
        for _ in range(per_round):
            started = time.perf_counter()
            result = ecode_verify(token=token, operator=operator)
            timings["verify"].append(time.perf_counter() - started)
            assert result.valid, result.code
        for name, (client, url) in pages.items():
            started = time.perf_counter()
            status = client.get(url).status_code
            timings[name].append(time.perf_counter() - started)
            assert status == 200, (name, status)
    with connection.cursor() as cursor:
        events = _events_total(cursor)
    return {"events": events, **{name: _summary(samples) for name, samples in timings.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_LARGE_EVENTS", 100_000_000)))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--verifies", type=int, default=600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    http.database_ensure()
    http.seed()
    from django.db import connection

    run_started = time.perf_counter()
    _reset()
    top_up(1_000)
    print("== 1k code events", flush=True)
    small = measure(repeats=args.repeats, verifies=args.verifies)
    print(json.dumps(small, ensure_ascii=False), flush=True)
    started = time.perf_counter()
    loaded = load(args.events)
    load_seconds = time.perf_counter() - started
    print(f"== {args.events:,} code events", flush=True)
    large = measure(repeats=args.repeats, verifies=args.verifies)
    print(json.dumps(large, ensure_ascii=False), flush=True)
    sizes = _sizes()
    # The small case again, so that a change in the machine's load during the run shows; the ratios are taken
    # against the faster of the two small medians (a small run slowed by other work would flatter the ratio).
    _reset()
    top_up(1_000)
    print("== 1k code events again", flush=True)
    small_after = measure(repeats=args.repeats, verifies=args.verifies)
    print(json.dumps(small_after, ensure_ascii=False), flush=True)
    ratios = {
        name: round(large[name]["p50_ms"] / min(small[name]["p50_ms"], small_after[name]["p50_ms"]), 2)
        for name in small
        if isinstance(small[name], dict)
    }
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "events": args.events,
        "load": {"seconds": round(load_seconds, 1), **loaded},
        "small": small,
        "large": large,
        "small_after": small_after,
        "ratios_p50": ratios,
        **sizes,
    }
    _reset()  # leave no tens of gigabytes behind
    result["run_seconds"] = round(time.perf_counter() - run_started)
    print(json.dumps({"ratios_p50": ratios, "run_seconds": result["run_seconds"]}, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    connection.close()
    return 0


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE settlement_settlement, ecode_codeevent CASCADE")
    _settle()
    _first_check()


def _sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
            " WHERE inhparent = 'ecode_codeevent_check'::regclass"
        )
        check_bytes = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT coalesce(sum(pg_relation_size(inhrelid)), 0) FROM pg_inherits"
            " WHERE inhparent = 'ecode_codeevent_check'::regclass"
        )
        heap_bytes = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'ecode_codeevent_check'::regclass")
        partitions = cursor.fetchone()[0]
    return {"check_partitions": partitions, "check_bytes": check_bytes, "check_heap_bytes": heap_bytes}


if __name__ == "__main__":
    raise SystemExit(main())
