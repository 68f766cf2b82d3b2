"""Gateway credentials: seeded for the demo counters, issued in the admin with the secret shown once, revoked."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from core.demo import seed_demo
from core.models import AuditEvent
from his.models import HisTerminal
from tests.his.client import HisClient
from tests.settlement import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
SIGN_IN = {"signIn": {"opter_no": "0007", "mac": "", "ip": "10.0.0.8"}}


def test_seed_demo_gives_every_counter_a_paasid_and_secret_that_sign(settings, client):
    from core.management.commands.seed_demo import accounts_text

    settings.CELERY_TASK_ALWAYS_EAGER = True
    demo = seed_demo()
    text = "\n".join(accounts_text(demo))
    assert all(c["paasid"] in text and c["his_secret"] in text for c in demo.counters)
    again = seed_demo()  # idempotent: the same credentials on every run
    assert [c["paasid"] for c in demo.counters] == [c["paasid"] for c in again.counters]
    for counter in demo.counters:
        assert counter["paasid"] and counter["his_secret"]
        his = HisClient(
            client,
            fixmedins_code=counter["institution_code"],
            paasid=counter["paasid"],
            secret=counter["his_secret"],
        )
        body, status = his.call("9001", SIGN_IN)
        assert status == 200 and body["infcode"] == 0, body


def test_admin_issues_a_credential_shows_the_secret_once_and_revokes_it():
    admin = get_user_model().objects.create_superuser("root", password="pw-12345678", role="admin")
    browser = Client()
    browser.force_login(admin)
    operator, _key = f.counter()
    page = browser.post(
        reverse("admin:his_histerminal_add"), {"operator": operator.pk, "name": "HIS"}, follow=True
    )
    terminal = HisTerminal.objects.get(operator=operator)
    text = page.content.decode()
    assert terminal.paasid in text and terminal.secret in text
    assert (
        terminal.secret
        not in browser.get(reverse("admin:his_histerminal_change", args=[terminal.pk])).content.decode()
    )
    browser.post(
        reverse("admin:his_histerminal_changelist"), {"action": "revoke", "_selected_action": [terminal.pk]}
    )
    terminal.refresh_from_db()
    assert terminal.revoked_at is not None
    assert AuditEvent.objects.filter(action="his_terminal.revoke", target_id=str(terminal.pk)).exists()
