import pytest
from django.urls import reverse

from notifications.models import ChannelPreference, Delivery, Notification
from notifications.services import notification_create
from tests.factories import CounterFactory, InstitutionFactory, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

LIST = reverse("api:notifications")
READ_ALL = reverse("api:notifications-read-all")
PREFERENCES = reverse("api:notification-preferences")


def read_url(notification_id) -> str:
    return reverse("api:notification-read", args=[notification_id])


def make_notifications(person, count: int) -> list[Notification]:
    for i in range(count):
        notification_create(
            person=person,
            event="filing_submitted",
            context={"filing_id": i, "filing_number": f"BA51010020260301{i:08d}"},
        )
    return list(Notification.objects.filter(person=person).order_by("id"))


def test_inbox_lists_own_notifications_newest_first_with_unread_count(person_client):
    person = person_factory()
    other = person_factory()
    mine = make_notifications(person, 3)
    make_notifications(other, 2)

    response = person_client(person).get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["unread_count"] == 3
    assert [item["id"] for item in body["results"]] == [n.pk for n in reversed(mine)]
    first = body["results"][0]
    assert first["title"] == "异地就医备案申请已提交"
    assert "备案编号：BA5101002026030100000002" in first["body"]
    assert first["is_read"] is False and first["read_at"] is None
    assert first["context"]["filing_id"] == 2 and first["event"] == "filing_submitted"


def test_inbox_is_in_the_persons_language(person_client):
    person = person_factory(language="en")
    make_notifications(person, 1)
    assert person_client(person).get(LIST).json()["results"][0]["title"] == "Filing submitted"


def test_inbox_is_paginated_and_filters_unread(person_client):
    person = person_factory()
    notifications = make_notifications(person, 25)
    client = person_client(person)
    client.post(read_url(notifications[0].pk))

    page = client.get(LIST, {"page_size": 10}).json()
    assert page["count"] == 25 and len(page["results"]) == 10 and page["next"]
    unread = client.get(LIST, {"unread": 1, "page_size": 100}).json()
    assert unread["count"] == 24 and unread["unread_count"] == 24
    assert notifications[0].pk not in [item["id"] for item in unread["results"]]


def test_mark_read_sets_read_time_once(person_client):
    person = person_factory()
    [notification] = make_notifications(person, 1)
    client = person_client(person)

    first = client.post(read_url(notification.pk))
    second = client.post(read_url(notification.pk))

    assert first.status_code == 200 and first.json()["is_read"] is True
    assert second.json()["read_at"] == first.json()["read_at"]
    assert client.get(LIST).json()["unread_count"] == 0


def test_a_person_cannot_read_or_mark_anothers_notification(person_client):
    owner = person_factory()
    [notification] = make_notifications(owner, 1)
    intruder = person_client(person_factory())

    response = intruder.post(read_url(notification.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "notification_not_found"
    assert intruder.get(LIST).json()["count"] == 0
    notification.refresh_from_db()
    assert notification.read_at is None


def test_read_all_marks_only_own_notifications(person_client):
    person = person_factory()
    other = person_factory()
    make_notifications(person, 3)
    make_notifications(other, 2)

    response = person_client(person).post(READ_ALL)

    assert response.json() == {"marked": 3, "unread_count": 0}
    assert Notification.objects.filter(person=other, read_at__isnull=True).count() == 2


def test_unknown_notification_is_not_found(person_client):
    response = person_client(person_factory()).post(read_url(999999))
    assert response.status_code == 404


def test_anonymous_cannot_use_the_inbox(api_client):
    assert api_client.get(LIST).status_code == 401
    assert api_client.post(READ_ALL).status_code == 401
    assert api_client.get(PREFERENCES).status_code == 401


def test_preferences_default_to_all_channels_and_can_be_changed(person_client):
    person = person_factory(email="li@example.com")
    client = person_client(person)

    assert client.get(PREFERENCES).json() == {
        "inbox": True,
        "sms": True,
        "wechat": True,
        "email": True,
        "email_on_file": True,
    }
    response = client.put(PREFERENCES, {"sms": False, "email": False}, format="json")

    assert response.status_code == 200
    assert response.json()["sms"] is False and response.json()["wechat"] is True
    notification_create(person=person, event="ecode_activated", context={})
    assert list(Delivery.objects.values_list("channel", flat=True)) == ["wechat"]
    assert Notification.objects.filter(person=person).count() == 1


def test_preferences_reject_bad_input(person_client):
    person = person_factory()
    client = person_client(person)

    response = client.put(PREFERENCES, {"sms": "perhaps"}, format="json")
    assert response.status_code == 400 and "sms" in response.json()["fields"]
    assert client.put(PREFERENCES, ["sms"], format="json").status_code == 400
    assert not ChannelPreference.objects.exists()


def test_preferences_are_per_person(person_client):
    person = person_factory()
    other = person_factory()
    person_client(person).put(PREFERENCES, {"wechat": False}, format="json")
    assert person_client(other).get(PREFERENCES).json()["wechat"] is True


def test_staff_cannot_use_the_inbox(api_client):
    api_client.force_authenticate(CounterFactory(institution=InstitutionFactory()))
    assert api_client.get(LIST).status_code == 403
    assert api_client.get(PREFERENCES).status_code == 403
    assert api_client.post(READ_ALL).status_code == 403
