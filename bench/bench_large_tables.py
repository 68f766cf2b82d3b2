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

first with about 1,000 code events, then after loading ``--events`` checks with ``generate_series`` (spread over
the last 90 days, so over four monthly partitions, in chunks of one transaction each: the insert rate per chunk
shows whether it stays steady as the table grows), ``ANALYZE``. Results are medians and p99 of alternating
repeats; the goals (issue 17) are verify within 1.2× and each page within 1.5× of the 1k case. Each run starts
from an empty event table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
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


def load(target: int, *, chunk: int) -> list[dict]:
    """Top the code events up to ``target`` with checks copied from a template row, in chunks; returns each
    chunk's rows and rate."""
    from django.db import connection, transaction
    from django.utils import timezone

    from core.partitions import partitions_ensure
    from ecode.models import CodeEvent

    partitions_ensure(since=timezone.now() - timezone.timedelta(days=DAYS))
    template = CodeEvent.objects.filter(kind="verify").order_by("id").first()
    columns = [f.column for f in CodeEvent._meta.concrete_fields if not f.primary_key]
    overrides = {
        # Spread evenly over the last 90 days; the copies are checks of codes of nobody on file.
        "created_at": f"now() - ((g %% {DAYS * 86400}) * interval '1 second')",
        "person_id": "NULL",
        "credential_id": "NULL",
        "request_no": "''",
        "result": "'unknown_subject'",
    }
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(overrides.get(c, f'"{c}"') for c in columns)
    chunks = []
    with connection.cursor() as cursor:
        have = _events_total(cursor)
        while have < target:
            rows = min(chunk, target - have)
            started = time.perf_counter()
            with transaction.atomic():
                cursor.execute(
                    f"INSERT INTO ecode_codeevent ({names}) SELECT {values}"  # noqa: S608
                    " FROM ecode_codeevent, generate_series(%s::bigint, %s::bigint) AS g WHERE id = %s",
                    [have + 1, have + rows, template.pk],
                )
            seconds = time.perf_counter() - started
            have += rows
            chunks.append(
                {
                    "rows": rows,
                    "total": have,
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(rows / seconds),
                }
            )
            print(f"   loaded {have:,} events ({rows / seconds:,.0f} rows/s)", flush=True)
        started = time.perf_counter()
        cursor.execute("ANALYZE ecode_codeevent")
        print(f"   ANALYZE {time.perf_counter() - started:.1f} s", flush=True)
    return chunks


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
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_LARGE_EVENTS", 10_000_000)))
    parser.add_argument("--chunk", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--verifies", type=int, default=600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    http.database_ensure()
    http.seed()
    from django.db import connection

    _reset()
    load(1_000, chunk=1_000)
    print("== 1k code events", flush=True)
    small = measure(repeats=args.repeats, verifies=args.verifies)
    print(json.dumps(small, ensure_ascii=False), flush=True)
    started = time.perf_counter()
    chunks = load(args.events, chunk=args.chunk)
    load_seconds = time.perf_counter() - started
    print(f"== {args.events:,} code events", flush=True)
    large = measure(repeats=args.repeats, verifies=args.verifies)
    print(json.dumps(large, ensure_ascii=False), flush=True)
    sizes = _sizes()
    # The small case again, so that a change in the machine's load during the run shows; the ratios are taken
    # against the faster of the two small medians (a small run slowed by other work would flatter the ratio).
    _reset()
    load(1_000, chunk=1_000)
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
        "load": {"seconds": round(load_seconds, 1), "chunks": chunks},
        "small": small,
        "large": large,
        "small_after": small_after,
        "ratios_p50": ratios,
        **sizes,
    }
    print(json.dumps({"ratios_p50": ratios}, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    connection.close()
    return 0


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE settlement_settlement, ecode_codeevent CASCADE")
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
