"""Every allowed and forbidden state change, who may make it, and what it leaves behind (audit, notification)."""

import datetime as dt

import pytest

from core.audit import audit_history
from core.errors import ServiceError
from filing.choices import FilingGroup, FilingStatus
from filing.dates import today
from filing.services import (
    filing_approve,
    filing_cancel,
    filing_expire,
    filing_reject,
    filing_revoke,
    filing_submit,
)
from notifications.models import Notification
from tests.factories import CounterFactory, person_factory

from .factories import days_ago, draft, hospital, policy, reviewer

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

S = FilingStatus
START = 200  # days ago: temporary filings starting then have already ended (six months)


@pytest.fixture
def area():
    return policy(instant_approval=False, retroactive_days=365)


@pytest.fixture
def person():
    return person_factory(insured_region="510100")


@pytest.fixture
def clerk():
    return reviewer("510100")


def make(status: str, person, clerk):
    """A temporary filing that started 200 days ago (so it has ended), brought to `status` by the services."""
    filing = draft(person, group=FilingGroup.TEMPORARY, start_date=days_ago(START))
    if status == S.DRAFT:
        return filing
    filing = filing_submit(filing=filing, actor=person.user)
    if status == S.SUBMITTED:
        return filing
    if status == S.REJECTED:
        return filing_reject(filing=filing, actor=clerk, reason="材料不全")
    filing = filing_approve(filing=filing, actor=clerk)
    if status == S.CANCELLED:
        return filing_cancel(filing=filing, actor=person.user)
    if status == S.REVOKED:
        return filing_revoke(filing=filing, actor=clerk, reason="承诺不实")
    if status == S.EXPIRED:
        return filing_expire(filing=filing)
    if status == S.SUPERSEDED:
        change = draft(person, group=FilingGroup.TEMPORARY, destination="310000", supersedes=filing)
        filing_approve(filing=filing_submit(filing=change, actor=person.user), actor=clerk)
        filing.refresh_from_db()
    return filing


ACTIONS = {
    "submit": (lambda f, p, c: filing_submit(filing=f, actor=p.user), S.SUBMITTED),
    "approve": (lambda f, p, c: filing_approve(filing=f, actor=c), S.APPROVED),
    "reject": (lambda f, p, c: filing_reject(filing=f, actor=c, reason="材料不全"), S.REJECTED),
    "cancel": (lambda f, p, c: filing_cancel(filing=f, actor=p.user), S.CANCELLED),
    "revoke": (lambda f, p, c: filing_revoke(filing=f, actor=c, reason="承诺不实"), S.REVOKED),
    "expire": (lambda f, p, c: filing_expire(filing=f), S.EXPIRED),
}
ALLOWED = {
    ("submit", S.DRAFT),
    ("approve", S.SUBMITTED),
    ("reject", S.SUBMITTED),
    ("cancel", S.DRAFT),
    ("cancel", S.SUBMITTED),
    ("cancel", S.APPROVED),
    ("revoke", S.APPROVED),
    ("expire", S.APPROVED),
}


@pytest.mark.parametrize("status", list(S.values))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_transition_matrix(area, person, clerk, action, status):
    filing = make(status, person, clerk)
    assert filing.status == status
    run, target = ACTIONS[action]
    if (action, status) in ALLOWED:
        result = run(filing, person, clerk)
        assert result.status == target
        event = audit_history(filing).last()
        assert (event.from_state, event.to_state) == (status, target)
    else:
        with pytest.raises(ServiceError) as exc:
            run(filing, person, clerk)
        assert exc.value.code == "invalid_transition"
        assert exc.value.status_code == 409
        filing.refresh_from_db()
        assert filing.status == status


def test_approved_filing_does_not_expire_before_its_last_day(area, person, clerk):
    filing = draft(person, group=FilingGroup.TEMPORARY)
    filing = filing_approve(filing=filing_submit(filing=filing, actor=person.user), actor=clerk)
    with pytest.raises(ServiceError) as exc:
        filing_expire(filing=filing)
    assert exc.value.code == "filing_not_ended"


def test_long_term_filing_never_expires(area, person, clerk):
    filing = filing_approve(filing=filing_submit(filing=draft(person), actor=person.user), actor=clerk)
    with pytest.raises(ServiceError) as exc:
        filing_expire(filing=filing)
    assert exc.value.code == "filing_not_ended"


# --- Who may act ---


def test_person_cannot_decide_their_own_filing(area, person):
    filing = filing_submit(filing=draft(person), actor=person.user)
    for decide in (
        lambda: filing_approve(filing=filing, actor=person.user),
        lambda: filing_reject(filing=filing, actor=person.user, reason="x"),
    ):
        with pytest.raises(ServiceError) as exc:
            decide()
        assert exc.value.code == "permission_denied"


def test_another_person_cannot_submit_or_cancel(area, person):
    other = person_factory(insured_region="510100")
    filing = draft(person)
    with pytest.raises(ServiceError) as exc:
        filing_submit(filing=filing, actor=other.user)
    assert exc.value.code == "permission_denied"
    with pytest.raises(ServiceError) as exc:
        filing_cancel(filing=filing, actor=other.user)
    assert exc.value.code == "permission_denied"


def test_reviewer_cannot_decide_another_areas_filing(area, person):
    filing = filing_submit(filing=draft(person), actor=person.user)
    outsider = reviewer("230100")
    for decide in (
        lambda: filing_approve(filing=filing, actor=outsider),
        lambda: filing_reject(filing=filing, actor=outsider, reason="x"),
        lambda: filing_cancel(filing=filing, actor=outsider),
    ):
        with pytest.raises(ServiceError) as exc:
            decide()
        assert exc.value.code == "permission_denied"
    filing.refresh_from_db()
    assert filing.status == S.SUBMITTED


def test_reviewer_cannot_revoke_another_areas_filing(area, person, clerk):
    filing = filing_approve(filing=filing_submit(filing=draft(person), actor=person.user), actor=clerk)
    with pytest.raises(ServiceError) as exc:
        filing_revoke(filing=filing, actor=reviewer("230100"), reason="x")
    assert exc.value.code == "permission_denied"


def test_counter_operator_cannot_approve(area, person):
    filing = filing_submit(filing=draft(person), actor=person.user)
    with pytest.raises(ServiceError) as exc:
        filing_approve(filing=filing, actor=CounterFactory(institution=hospital()))
    assert exc.value.code == "permission_denied"


def test_scheduled_task_cannot_approve(area, person):
    filing = filing_submit(filing=draft(person), actor=person.user)
    with pytest.raises(ServiceError) as exc:
        filing_approve(filing=filing, actor=None)
    assert exc.value.code == "permission_denied"


def test_rejection_and_revocation_need_a_reason(area, person, clerk):
    filing = filing_submit(filing=draft(person), actor=person.user)
    with pytest.raises(ServiceError) as exc:
        filing_reject(filing=filing, actor=clerk, reason="  ")
    assert exc.value.code == "reason_required"
    filing = filing_approve(filing=filing, actor=clerk)
    with pytest.raises(ServiceError) as exc:
        filing_revoke(filing=filing, actor=clerk, reason="")
    assert exc.value.code == "reason_required"


# --- What a transition leaves behind ---


def test_each_decision_is_audited_with_actor_states_and_reason(area, person, clerk):
    filing = filing_submit(filing=draft(person), actor=person.user)
    filing_reject(filing=filing, actor=clerk, reason="居住证明不清晰", hint="请重新上传清晰的居住证明")
    events = list(audit_history(filing).order_by("id"))
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("filing.create", "", "draft"),
        ("filing.submit", "draft", "submitted"),
        ("filing.reject", "submitted", "rejected"),
    ]
    assert events[1].actor == person.user
    assert events[2].actor == clerk and events[2].reason == "居住证明不清晰"
    filing.refresh_from_db()
    assert filing.decided_by == clerk and filing.fix_hint == "请重新上传清晰的居住证明"


def test_person_is_told_of_each_step_without_personal_data_in_the_message(area, person, clerk):
    filing = filing_submit(filing=draft(person), actor=person.user)
    filing_approve(filing=filing, actor=clerk)
    events = list(Notification.objects.filter(person=person).order_by("id"))
    assert [n.event for n in events] == ["filing_submitted", "filing_approved"]
    submitted_ctx, approved_ctx = events[0].context, events[1].context
    assert submitted_ctx == {
        "filing_id": filing.pk,
        "filing_number": filing.serial,
        "group": "resident",
        "destination_name": "北京市",
        "review_deadline": filing.review_deadline.isoformat(),
    }
    assert approved_ctx["all_institutions"] is True and approved_ctx["end_date"] == ""
    text = str([n.context for n in events])
    for secret in (person.name, person.id_number, person.phone):
        assert secret not in text


def test_rejection_tells_the_person_why_and_how_to_fix_it(area, person, clerk):
    filing = filing_submit(filing=draft(person), actor=person.user)
    filing_reject(filing=filing, actor=clerk, reason="材料不全", hint="请补充居住证明")
    notice = Notification.objects.get(person=person, event="filing_rejected")
    assert notice.context["reason"] == "材料不全" and notice.context["hint"] == "请补充居住证明"


def test_discarding_a_draft_tells_nobody(area, person):
    filing_cancel(filing=draft(person), actor=person.user)
    assert not Notification.objects.filter(person=person).exists()


def test_window_clerk_of_the_area_may_cancel_for_the_person(area, person, clerk):
    filing = filing_submit(filing=draft(person, group=FilingGroup.TEMPORARY), actor=person.user)
    filing = filing_approve(filing=filing, actor=clerk)
    assert filing_cancel(filing=filing, actor=clerk, reason="本人到窗口申请").status == S.CANCELLED


def test_cancelled_filing_is_no_longer_in_force(area, person, clerk):
    from filing.selectors import filing_in_force

    filing = filing_submit(filing=draft(person, group=FilingGroup.TEMPORARY), actor=person.user)
    filing = filing_approve(filing=filing, actor=clerk)
    assert filing_in_force(person=person) == filing
    filing_cancel(filing=filing, actor=person.user)
    assert filing_in_force(person=person) is None
    assert filing_in_force(person=person, on_date=today() + dt.timedelta(days=1)) is None
