"""Reads off the primary (core.db), against a real PostgreSQL primary and its streaming standby on loopback.

Lists that may be a moment old are read from the standby; decisions and writes go to the primary; who just
wrote reads the primary; a standby that is down or too far behind is not read, and nothing answers a 5xx. The
tests pause the standby's replay to make it lag on purpose: what a list shows then says where it was read.
"""

from __future__ import annotations

import copy
import time

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import db
from ecode.services import credential_suspend, token_issue
from notifications.events import Event
from notifications.models import Notification
from notifications.services import notification_create
from tests.conftest import migration_data_ensure
from tests.factories import person_factory
from tests.standby import Cluster, missing_tools

pytestmark = pytest.mark.skipif(
    bool(missing_tools()),
    reason="PostgreSQL server binaries not installed (need initdb, pg_ctl, pg_basebackup, postgres, pg_dump, psql)",
)

NOTIFICATIONS = "/api/v1/notifications/"


@pytest.fixture(scope="session")
def cluster(django_db_setup, django_db_blocker):
    """One primary and one standby for the session, holding a copy of the migrated test database."""
    default = connections["default"].settings_dict
    if default["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the standby tests run on PostgreSQL")
    cluster = Cluster()
    try:
        with django_db_blocker.unblock():
            migration_data_ensure()  # a transactional test that ran before may have flushed them
            cluster.start(database=default["NAME"], source=default)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def standby(cluster, transactional_db, django_db_blocker, settings):
    """Django pointed at the cluster: `default` is its primary, `replica` its standby, for this test only.

    What a test writes is committed (the standby sees only that); the flush that ends a transactional test
    runs after this fixture has pointed Django back at the test database."""
    default = connections["default"].settings_dict
    saved = {"HOST": default["HOST"], "PORT": default["PORT"]}
    settings.REPLICA_RETRY_SECONDS = 0  # each test decides when the standby is back
    replica = copy.deepcopy(default)
    replica.update(HOST="127.0.0.1", PORT=str(cluster.standby_port), TEST={"MIRROR": "default"})
    replica["OPTIONS"]["connect_timeout"] = 2
    with django_db_blocker.unblock():
        connections["default"].close()
        default.update(HOST="127.0.0.1", PORT=str(cluster.primary_port))
        django_settings.DATABASES[db.REPLICA] = replica
        connections.settings[db.REPLICA] = replica
        db.replica_recovered()
        try:
            yield cluster
        finally:
            for alias in (db.REPLICA, "default"):
                connections[alias].close()
            del connections[db.REPLICA]
            del django_settings.DATABASES[db.REPLICA]
            connections.settings.pop(db.REPLICA, None)
            default.update(saved)
            db.replica_recovered()
            if not cluster.standby_running():
                cluster.start_standby()
            cluster.resume_replay()


def _database(cluster) -> str:
    return connections["default"].settings_dict["NAME"]


def _notify(person, number: int = 1) -> None:
    for _ in range(number):
        notification_create(person=person, event=Event.FILING_SUBMITTED, context={})


def _lagging(cluster, *, before) -> None:
    """`before()` is replayed on the standby; what is written afterwards reaches only the primary."""
    before()
    cluster.catch_up(_database(cluster))
    cluster.pause_replay()


def _tables(context: CaptureQueriesContext) -> str:
    return " ".join(query["sql"] for query in context.captured_queries)


def test_a_persons_notices_are_read_from_the_standby(standby, person_client):
    person = person_factory()
    _lagging(standby, before=lambda: _notify(person))
    _notify(person)  # on the primary only

    client = person_client(person)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        body = client.get(NOTIFICATIONS).json()

    assert body["count"] == 1 and body["unread_count"] == 1  # the standby's copy, a moment old
    assert "notifications_notification" in _tables(on_replica)
    assert Notification.objects.filter(person=person).count() == 2  # the primary has both


def test_the_institution_directory_and_the_code_history_are_read_from_the_standby(standby, person_client):
    person = person_factory()
    standby.catch_up(_database(standby))
    client = person_client(person)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert client.get("/api/v1/institutions/?kind=hospital").status_code == 200
        assert client.get("/api/v1/ecode/history").status_code == 200
    assert "reference_institution" in _tables(on_replica)
    assert "ecode_codeevent" in _tables(on_replica)


def test_an_admin_changelist_is_read_from_the_standby(standby):
    from accounts.models import User

    admin = User.objects.create_superuser(username=f"admin-{time.time_ns()}", password="pw-Secret-123")
    standby.catch_up(_database(standby))
    client = Client()
    client.force_login(admin)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        response = client.get("/admin/notifications/notification/")
    assert response.status_code == 200
    assert "notifications_notification" in _tables(on_replica)
    # The session and the user were read from the primary: signing in decides.
    assert "django_session" not in _tables(on_replica)


def test_a_counter_verify_and_use_decide_on_the_primary_while_the_standby_lags(standby, counter_client):
    from tests.ecode.factories import counter, credential_factory

    credential = credential_factory(insured_region="510100")
    operator, key = counter(region_code="310000")
    token = token_issue(credential=credential).token
    _lagging(standby, before=lambda: None)
    credential_suspend(credential=credential, actor=None, reason="lost phone")  # the standby has not seen it

    terminal = counter_client(key)
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        checked = terminal.post("/api/v1/ecode/verify", {"token": token}, format="json")
        used = terminal.post("/api/v1/ecode/consume", {"token": token}, format="json")

    assert checked.status_code == 422 and checked.json()["code"] == "credential_suspended"
    assert used.status_code == 422 and used.json()["code"] == "credential_suspended"
    assert on_replica.captured_queries == []


def test_who_just_wrote_reads_their_own_writes_then_the_standby_again(standby, person_client, settings):
    settings.REPLICA_PIN_SECONDS = 2
    person = person_factory()
    _lagging(standby, before=lambda: _notify(person, 2))

    phone = person_client(person)
    marked = phone.post(NOTIFICATIONS + "read-all")
    assert marked.status_code == 200 and marked.json()["unread_count"] == 0
    assert db.PIN_COOKIE in marked.cookies

    # The same device (its cookie), and another device of the same person (the pin kept per user).
    for client in (phone, person_client(person)):
        with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
            assert client.get(NOTIFICATIONS).json()["unread_count"] == 0
        assert on_replica.captured_queries == []

    # Someone else is not pinned: they read the standby.
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        person_client(person_factory()).get(NOTIFICATIONS)
    assert "notifications_notification" in _tables(on_replica)

    time.sleep(2.1)
    phone.cookies.clear()
    assert phone.get(NOTIFICATIONS).json()["unread_count"] == 2  # the pin ended: the lagging standby again


def test_a_read_that_writes_pins_too(standby, client):
    """Opening a notice marks it read, on a GET: the inbox shown next must say so."""
    person = person_factory(password="pw-Secret-123")
    _lagging(standby, before=lambda: _notify(person))
    client.force_login(person.user)
    notice = Notification.objects.get(person=person)

    opened = client.get(f"/notices/{notice.pk}/")
    assert opened.status_code == 200 and db.PIN_COOKIE in opened.cookies
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        inbox = client.get("/notices/")
    assert inbox.status_code == 200 and on_replica.captured_queries == []
    assert inbox.context["unread"] == 0


def test_reads_fall_back_to_the_primary_while_the_standby_is_down(standby, person_client, client):
    person = person_factory()
    _notify(person)
    standby.catch_up(_database(standby))
    api = person_client(person)
    assert api.get(NOTIFICATIONS).json()["count"] == 1  # read from the standby: a connection is open
    assert client.get("/readyz").json()["checks"]["replica"] == "ok"

    standby.stop_standby()
    _notify(person)
    response = api.get(NOTIFICATIONS)
    assert response.status_code == 200 and response.json()["count"] == 2  # the primary's answer
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded" and ready.json()["checks"]["replica"] == "unavailable"

    standby.start_standby()
    standby.catch_up(_database(standby))
    assert client.get("/readyz").json()["checks"]["replica"] == "ok"
    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert api.get(NOTIFICATIONS).json()["count"] == 2
    assert "notifications_notification" in _tables(on_replica)


def test_a_standby_that_fails_under_a_list_has_the_list_read_again_from_the_primary(
    standby, person_client, caplog
):
    """The standby answered the request's check, then its connection died before the list's query."""
    person = person_factory()
    _notify(person)
    standby.catch_up(_database(standby))
    _notify(person)  # the primary's answer has two
    killed = []

    def die_before_the_list(execute, sql, params, many, context):
        if "notifications_notification" in sql and not killed:
            pid = context["connection"].connection.info.backend_pid
            standby.standby_sql(f"SELECT pg_terminate_backend({pid})")
            killed.append(pid)
        return execute(sql, params, many, context)

    with connections[db.REPLICA].execute_wrapper(die_before_the_list):
        response = person_client(person).get(NOTIFICATIONS)
    assert killed and response.status_code == 200
    assert response.json()["count"] == 2 and response.json()["unread_count"] == 2
    assert "Replica unavailable (OperationalError)" in caplog.text


def test_a_standby_too_far_behind_is_not_read(standby, person_client, client, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 0.2
    person = person_factory()
    _lagging(standby, before=lambda: _notify(person))
    _notify(person)
    time.sleep(0.5)

    with CaptureQueriesContext(connections[db.REPLICA]) as on_replica:
        assert person_client(person).get(NOTIFICATIONS).json()["count"] == 2
    assert "notifications_notification" not in _tables(on_replica)
    ready = client.get("/readyz").json()
    assert ready["status"] == "degraded" and ready["checks"]["replica"] == "lagging"


def test_objects_read_from_the_standby_are_saved_to_the_primary(standby):
    person = person_factory()
    _notify(person)
    standby.catch_up(_database(standby))
    notice = db.for_reading(Notification.objects.filter(person=person)).get()
    assert notice._state.db == db.REPLICA
    notice.context = {"seen": True}
    notice.save()  # the standby is read-only: this would fail there
    assert Notification.objects.get(pk=notice.pk).context == {"seen": True}


# What each request reads where (docs/scaling.md quotes the table this prints with `-s`).
LISTS = [
    ("person", "/"),
    ("person", "/notices/"),
    ("person", "/filings/"),
    ("person", "/settlements/"),
    ("person", "/ecode/"),
    ("token", NOTIFICATIONS),
    ("token", "/api/v1/filings/"),
    ("token", "/api/v1/settlements/"),
    ("token", "/api/v1/ecode/history"),
    ("token", "/api/v1/institutions/?region=510000"),
    ("staff", "/admin/notifications/notification/"),
    ("staff", "/admin/ecode/codeevent/"),
]


def test_where_each_request_reads(standby, person_client, counter_client):
    from django.core.cache import cache

    from accounts.models import User
    from ecode.services import credential_activate
    from tests.settlement import factories as f
    from tests.settlement.test_api import outpatient

    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    f.catalogue_item("XC10AAA105A001", "阿托伐他汀钙片", "B")
    person = person_factory()
    f.filed(person)
    operator, key = f.counter()
    credential = credential_activate(person=person, actor=None)
    _notify(person, 3)
    admin = User.objects.create_superuser(username=f"admin-{time.time_ns()}", password="pw-Secret-123")
    browser, staff = Client(), Client()
    browser.force_login(person.user)
    staff.force_login(admin)
    app, terminal = person_client(person), counter_client(key)
    standby.catch_up(_database(standby))

    rows = []

    def measure(label, who, send):
        with (
            CaptureQueriesContext(connections["default"]) as on_primary,
            CaptureQueriesContext(connections[db.REPLICA]) as on_replica,
        ):
            response = send()
        assert response.status_code in (200, 201), (label, response.status_code)
        rows.append(f"| {label} | {who} | {len(on_primary)} | {len(on_replica)} |")
        # Each request is measured as made by someone who did not just write.
        for client in (browser, staff, app, terminal):
            client.cookies.pop(db.PIN_COOKIE, None)
        cache.clear()
        return response, len(on_replica)

    clients = {"person": browser, "token": app, "staff": staff}
    for who, path in LISTS:
        _response, on_replica = measure(f"GET `{path}`", who, lambda: clients[who].get(path))
        assert on_replica > 0, path

    decisions = [
        ("GET `/api/v1/ecode/current`", "token", lambda: app.get("/api/v1/ecode/current")),
        (
            "POST `/api/v1/ecode/verify`",
            "counter",
            lambda: terminal.post(
                "/api/v1/ecode/verify", {"token": token_issue(credential=credential).token}, format="json"
            ),
        ),
    ]
    for label, who, send in decisions:
        assert measure(label, who, send)[1] == 0, label
    used, on_replica = measure(
        "POST `/api/v1/ecode/consume`",
        "counter",
        lambda: terminal.post(
            "/api/v1/ecode/consume", {"token": token_issue(credential=credential).token}, format="json"
        ),
    )
    assert on_replica == 0
    settled, on_replica = measure(
        "POST `/api/v1/settlements/`",
        "counter",
        lambda: terminal.post("/api/v1/settlements/", outpatient(used.json()["use_id"]), format="json"),
    )
    assert on_replica == 0 and settled.status_code == 201
    print("\n| request | as | queries on the primary | on the replica |\n|---|---|---|---|")
    print("\n".join(rows))
