import pytest
from django.urls import reverse

from notifications.choices import DeliveryStatus
from notifications.models import Delivery, Notification

from .conftest import FAILING_PROVIDER, FILE_PROVIDER

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

DELIVERIES = reverse("admin:notifications_delivery_changelist")


@pytest.fixture
def failed_sms(person, outbox, notify, settings):
    settings.NOTIFICATION_SMS_BACKEND = FAILING_PROVIDER
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notify(person, "ecode_used", {"institution_name": "协和医院", "scene": "verify"})
    settings.NOTIFICATION_SMS_BACKEND = FILE_PROVIDER
    return Delivery.objects.get(channel="sms")


def test_failed_deliveries_are_listed_with_their_error(admin_client, failed_sms):
    response = admin_client.get(DELIVERIES, {"status": "failed"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "gateway unavailable" in page
    assert list(response.context["cl"].result_list) == [failed_sms]
    for query in ({"channel": "sms"}, {"event": "ecode_used"}, {"q": str(failed_sms.pk)}):
        assert admin_client.get(DELIVERIES, query).status_code == 200


def test_retry_action_sends_a_failed_delivery(
    admin_client, failed_sms, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            DELIVERIES, {"action": "retry", "_selected_action": [failed_sms.pk]}, follow=True
        )

    assert response.status_code == 200
    failed_sms.refresh_from_db()
    assert failed_sms.status == DeliveryStatus.SENT
    assert outbox.count("sms") == 1


def test_retry_action_skips_sent_deliveries(admin_client, failed_sms, outbox):
    wechat = Delivery.objects.get(channel="wechat")
    response = admin_client.post(
        DELIVERIES,
        {"action": "retry", "_selected_action": [wechat.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "only failed or pending ones can be retried" in response.content.decode()
    assert outbox.count("wechat") == 1


def test_inbox_rows_show_no_personal_data(admin_client, person, failed_sms):
    notification = Notification.objects.get()
    pages = [
        admin_client.get(reverse("admin:notifications_notification_changelist")).content.decode(),
        admin_client.get(
            reverse("admin:notifications_notification_change", args=[notification.pk])
        ).content.decode(),
        admin_client.get(
            reverse("admin:notifications_delivery_change", args=[failed_sms.pk])
        ).content.decode(),
    ]
    for page in pages:
        assert person.name not in page and person.id_number not in page and person.phone not in page
        assert "zhang@example.com" not in page
    assert person.masked_name in pages[0]
