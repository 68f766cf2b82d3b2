"""core.db without a replica (the embedded default and most deployments): it stays out of the way; and the
router's rules that hold whatever the databases. The replica itself: tests/core/test_replica.py."""

import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from core import db
from notifications.models import Notification
from tests.factories import person_factory


@pytest.mark.django_db
@pytest.mark.embedded
def test_without_a_replica_reads_are_the_primarys_and_a_write_pins_no_one(person_client, client):
    person = person_factory()
    api = person_client(person)
    marked = api.post("/api/v1/notifications/read-all")
    assert marked.status_code == 200 and db.PIN_COOKIE not in marked.cookies
    assert api.get("/api/v1/notifications/").status_code == 200
    assert db.for_reading(Notification.objects.all()).db == db.PRIMARY
    assert "replica" not in client.get("/readyz").json()["checks"]


def test_writes_and_migrations_go_to_the_primary_whatever_an_object_was_read_from():
    router = db.PrimaryReplicaRouter()
    notice = Notification()
    notice._state.db = db.REPLICA
    assert router.db_for_write(Notification, instance=notice) == db.PRIMARY
    assert router.allow_migrate(db.REPLICA, "notifications") is False
    assert router.allow_migrate(db.PRIMARY, "notifications") is True
    assert router.db_for_read(Notification) == db.PRIMARY  # not chosen for the replica


def test_a_pin_cookie_is_a_time_and_anything_else_is_ignored():
    request = RequestFactory().get("/notices/")
    request.user = AnonymousUser()
    request.COOKIES[db.PIN_COOKIE] = str(int(time.time()) + 5)
    assert db.is_pinned(request)
    request.COOKIES[db.PIN_COOKIE] = str(int(time.time()) - 1)
    assert not db.is_pinned(request)
    request.COOKIES[db.PIN_COOKIE] = "<script>"
    assert not db.is_pinned(request)
