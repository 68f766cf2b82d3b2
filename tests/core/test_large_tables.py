"""The list pages and admin changelists over the tables that grow by millions of rows a day do the same work at
1k and at 100k rows: the same number of queries, and (at 100k rows, analysed) no sequential scan of the large table.

PostgreSQL only: the rows are made by copying one real row with ``generate_series``, and the plans are
PostgreSQL's. The same pages are exercised on SQLite by the admin and API tests of each app.
"""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent
from core.partitions import partitions_ensure
from ecode.models import CodeEvent
from filing.dates import today
from notifications.models import Delivery, Notification
from reference.models import Institution
from settlement.models import Settlement
from settlement.services import settlement_create
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="plans and generate_series are PostgreSQL's"
    ),
]

LARGE = (CodeEvent, AuditEvent, Notification, Delivery, Settlement, Institution)
SEQ_SCAN = re.compile(
    r"Seq Scan on (%s)\b" % "|".join(rf"{model._meta.db_table}\w*" for model in LARGE)  # noqa: UP031
)
DAYS = 100  # the copies are spread over the last 100 days, a month of them in the default range


def _copy(model, template_pk: int, count: int, overrides: dict[str, str]) -> None:
    """``count`` copies of one row; ``overrides`` are SQL expressions per column, over ``g`` (1..count)."""
    columns = [field.column for field in model._meta.concrete_fields if not field.primary_key]
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(overrides.get(column, f'"{column}"') for column in columns)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}", generate_series(1, %s) AS g'  # noqa: S608
            f' WHERE "{model._meta.pk.column}" = %s',
            [count, template_pk],
        )


def _time(count: int) -> str:
    return f"now() - (g * interval '{DAYS * 86400 // count} seconds')"


@pytest.fixture
def world(admin_user):
    """A settled visit of the viewing person (their own few rows), and somebody else whose copies fill the tables."""
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    viewer = person_factory()
    f.filed(viewer)
    operator, _key = f.counter()
    settlement, _ = settlement_create(
        operator=operator,
        visit_type="general_outpatient",
        visit_date=today(),
        use_id=f.consumed_use(viewer, operator),
        items=f.items(("XJ01CAA040A001", 2, "25.00")),
    )
    other = person_factory(name="李四光")
    return {"viewer": viewer, "other": other, "settlement": settlement, "institution": operator.institution}


def _fill(world, rows: int) -> None:
    """Every large table to about ``rows`` rows, all but a handful someone else's."""
    other, settlement = world["other"].pk, world["settlement"]
    start = Settlement.objects.count()  # unique numbers and codes after those of an earlier fill
    event = CodeEvent.objects.filter(kind="consume").first()
    _copy(
        CodeEvent,
        event.pk,
        rows,
        {
            "created_at": _time(rows),
            "kind": "'verify'",
            "request_no": "''",
            "person_id": str(other),
            "credential_id": "NULL",
        },
    )
    _copy(AuditEvent, AuditEvent.objects.first().pk, rows, {"created_at": _time(rows)})
    notification = Notification.objects.first()
    _copy(Notification, notification.pk, rows, {"created_at": _time(rows), "person_id": str(other)})
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_delivery (notification_id, channel, status, attempts, last_error,"
            " next_attempt_at, provider_message_id, created_at) SELECT n.id, 'sms', 'sent', 1, '',"
            " n.created_at, '', n.created_at FROM notifications_notification n WHERE n.person_id = %s"
            " AND NOT EXISTS (SELECT 1 FROM notifications_delivery d WHERE d.notification_id = n.id)",
            [other],
        )
    _copy(
        Settlement,
        settlement.pk,
        rows,
        {
            "settled_at": _time(rows),
            "number": f"'T' || (g + {start})",
            "request_no": "''",
            "code_event_id": "NULL",
            "person_id": str(other),
        },
    )
    _copy(
        Institution,
        world["institution"].pk,
        rows,
        {
            "code": f"'H' || lpad((g + {start})::text, 11, '0')",
            # Spread over the pooling areas, as the country's institutions are.
            "region_id": "(SELECT array_agg(code ORDER BY code) FROM reference_region"
            " WHERE is_pooling_area)[1 + g %% 300]",
        },
    )
    partitions_ensure()  # as the beat task does: the past months' rows move out of the default partitions
    with connection.cursor() as cursor:
        for model in LARGE:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')


def _pages(world, person_client):
    person = person_client(world["viewer"])
    return {
        "admin e-code events": ("admin", reverse("admin:ecode_codeevent_changelist")),
        "admin e-code events, checks": (
            "admin",
            reverse("admin:ecode_codeevent_changelist") + "?kind=verify",
        ),
        "admin e-code events, refused": (
            "admin",
            reverse("admin:ecode_codeevent_changelist") + "?result=expired&period=week",
        ),
        "admin e-code events, asking for counts": (
            "admin",
            reverse("admin:ecode_codeevent_changelist") + "?_facets=True",
        ),
        "admin audit trail": ("admin", reverse("admin:core_auditevent_changelist")),
        "admin audit trail, settlements": (
            "admin",
            reverse("admin:core_auditevent_changelist") + "?action=settlement.settle&period=year",
        ),
        "admin notifications": ("admin", reverse("admin:notifications_notification_changelist")),
        "admin deliveries (outbox)": ("admin", reverse("admin:notifications_delivery_changelist")),
        "admin deliveries, sent": (
            "admin",
            reverse("admin:notifications_delivery_changelist") + "?status=sent",
        ),
        "admin settlements": ("admin", reverse("admin:settlement_settlement_changelist")),
        "admin settlements, a province": (
            "admin",
            reverse("admin:settlement_settlement_changelist") + "?insured_province=510000",
        ),
        # Neither has an index of its own (tests/core/test_indexes.py): the period's index serves the one, the
        # index of the few reversed rows the other.
        "admin settlements, a treatment province": (
            "admin",
            reverse("admin:settlement_settlement_changelist") + "?treatment_province=510000",
        ),
        "admin settlements, reversed": (
            "admin",
            reverse("admin:settlement_settlement_changelist") + "?status__exact=reversed&period=year",
        ),
        "person's e-code history": (person, reverse("api:ecode-history")),
        "person's notices": (person, reverse("api:notifications")),
        "person's settlements": (person, reverse("api:settlements")),
        "institutions of a province": (None, reverse("api:institutions") + "?region=110000"),
        "institutions of a pooling area": (
            None,
            reverse("api:institutions") + "?region=110000&kind=hospital",
        ),
    }


def _measure(world, client, admin_client, person_client) -> dict[str, list[str]]:
    """Each page's queries (their SQL), after a first request that fills the caches."""
    measured = {}
    for name, (who, url) in _pages(world, person_client).items():
        agent = admin_client if who == "admin" else client if who is None else who
        assert agent.get(url).status_code == 200, name
        with CaptureQueriesContext(connection) as queries:
            response = agent.get(url)
        assert response.status_code == 200, name
        measured[name] = [query["sql"] for query in queries.captured_queries]
    return measured


def _print_sizes() -> None:
    """Bytes a row of each large table takes, in the table and with its indexes (docs/scaling.md; ``-s``)."""
    with connection.cursor() as cursor:
        for model in LARGE:
            table = model._meta.db_table
            cursor.execute(
                "SELECT count(*), coalesce(sum(pg_relation_size(r)), 0), coalesce(sum(pg_total_relation_size(r)), 0)"
                " FROM (SELECT %s::regclass AS r UNION ALL SELECT relid FROM pg_partition_tree(%s)"
                " WHERE isleaf) AS t",
                [table, table],
            )
            _parts, heap, total = cursor.fetchone()
            rows = model.objects.count()
            print(
                f"{table}: {rows} rows, {heap / rows:.0f} bytes a row in the table, {total / rows:.0f} with indexes"
            )


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _seq_scans(sql: str) -> list[str]:
    """The large tables (or partitions of them, of more than a few thousand rows) the query's plan reads
    sequentially; an empty partition of a month ahead may be read so, at no cost."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        found = []
        for node in _nodes(plan[0]["Plan"]):
            relation = node.get("Relation Name", "")
            if node["Node Type"] == "Seq Scan" and SEQ_SCAN.match(f"Seq Scan on {relation}"):
                cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [relation])
                if cursor.fetchone()[0] > 5_000:
                    found.append(relation)
    return found


def test_lists_and_changelists_do_the_same_work_at_1k_and_100k_rows(
    world, client, admin_client, person_client
):
    _fill(world, 1_000)
    small = _measure(world, client, admin_client, person_client)
    _fill(world, 99_000)
    assert CodeEvent.objects.count() > 100_000
    large = _measure(world, client, admin_client, person_client)

    assert {name: len(sql) for name, sql in large.items()} == {name: len(sql) for name, sql in small.items()}
    _print_sizes()
    scans = {
        name: (sql, found) for name, queries in large.items() for sql in queries if (found := _seq_scans(sql))
    }
    assert not scans, "\n".join(f"{name}: {found} in {sql}" for name, (sql, found) in scans.items())


def test_the_period_filter_keeps_the_last_month_unless_told(world, admin_client):
    _fill(world, 900)  # under the paginator's exact count
    url = reverse("admin:ecode_codeevent_changelist")
    month = admin_client.get(url).context["cl"].result_count
    year = admin_client.get(url + "?period=year").context["cl"].result_count
    # About 31 of the 100 days by default, all of them over the last 12 months.
    assert 220 < month < 360
    assert year == CodeEvent.objects.count()
