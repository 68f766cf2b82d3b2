"""Policy and prepayment changes made in admin are saved and audited by the settlement services."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.audit import audit_history
from settlement.models import Prepayment
from settlement.services import policy_save, prepayment_save
from tests.factories import ReviewerFactory

from . import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_policy_save_records_who_created_and_changed_which_fields():
    reviewer = ReviewerFactory(region_code="510100")
    policy = f.policy()
    policy.pk = None  # a new policy for next year, as admin's "save as new" would make
    policy.year += 1
    policy.effective_from = dt.date(policy.year, 1, 1)
    created = policy_save(policy=policy, actor=reviewer, changed=["year", "effective_from"])
    created.annual_cap = D("250000.00")
    policy_save(policy=created, actor=reviewer, changed=["annual_cap"])
    events = list(audit_history(created).order_by("pk"))
    assert [(e.action, e.actor, e.data["fields"]) for e in events] == [
        ("policy.create", reviewer, ["effective_from", "year"]),
        ("policy.change", reviewer, ["annual_cap"]),
    ]


def test_prepayment_save_sets_who_recorded_it_and_audits(admin_user):
    prepayment = Prepayment(
        payer_province_id="510000",
        receiver_province_id="110000",
        month=dt.date(2026, 3, 1),
        amount=D("1000.00"),
    )
    prepayment_save(prepayment=prepayment, actor=admin_user)
    assert Prepayment.objects.get().created_by == admin_user
    prepayment.amount = D("1200.00")
    prepayment_save(prepayment=prepayment, actor=admin_user)
    events = list(audit_history(prepayment).order_by("pk"))
    assert [(e.action, e.data["amount"]) for e in events] == [
        ("prepayment.record", "1000.00"),
        ("prepayment.change", "1200.00"),
    ]


def test_a_prepayment_recorded_in_admin_is_audited(admin_client, admin_user):
    response = admin_client.post(
        "/admin/settlement/prepayment/add/",
        {
            "payer_province": "510000",
            "receiver_province": "110000",
            "month": "2026-03-01",
            "amount": "800.00",
            "note": "",
            # The history inline (read-only) still posts its empty management form.
            "core-auditevent-target_type-target_id-TOTAL_FORMS": "0",
            "core-auditevent-target_type-target_id-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    prepayment = Prepayment.objects.get()
    assert prepayment.created_by == admin_user
    assert [e.action for e in audit_history(prepayment)] == ["prepayment.record"]
