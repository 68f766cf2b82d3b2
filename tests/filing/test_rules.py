"""Each group's rules as an insured area configures them: eligibility, materials or commitment, validity,
destinations, picks, retroactive filing, waiting periods, changes and overlaps."""

import datetime as dt

import pytest
from django.db import connection

from accounts.choices import PersonStatus
from core.errors import ServiceError
from core.models import AuditEvent
from filing.choices import DocumentKind, FilingGroup, FilingStatus
from filing.dates import today, validity_end
from filing.models import Filing, Holiday
from filing.selectors import filing_in_force, filing_policy_for
from filing.services import (
    filing_approve,
    filing_cancel,
    filing_create_draft,
    filing_submit,
    filing_update_draft,
)
from reference.choices import InstitutionKind, RegionLevel
from reference.models import Region
from tests.factories import person_factory

from .factories import approved, days_ago, draft, hospital, policy, reviewer, submitted, with_document

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def area():
    """Chengdu reviews every filing (no instant approval), within 5 working days."""
    return policy(instant_approval=False, review_deadline_days=5, retroactive_days=90)


@pytest.fixture
def person():
    return person_factory(insured_region="510100")


def code_of(excinfo) -> str:
    return excinfo.value.code


# --- Who may file for which group ---


def test_relocated_retiree_must_be_retired(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, group=FilingGroup.RETIREE)
    assert code_of(exc) == "not_retired"

    retired = person_factory(insured_region="510100", retired=True)
    assert draft(retired, group=FilingGroup.RETIREE).status == FilingStatus.DRAFT


def test_area_can_drop_the_retirement_requirement(person):
    policy(instant_approval=False, rules={FilingGroup.RETIREE: {"retired_required": False}})
    assert draft(person, group=FilingGroup.RETIREE).group == FilingGroup.RETIREE


def test_group_the_area_does_not_accept_is_refused(person):
    policy(rules={FilingGroup.WORKER: {"accepted": False}})
    with pytest.raises(ServiceError) as exc:
        draft(person, group=FilingGroup.WORKER)
    assert code_of(exc) == "group_not_accepted"


def test_inactive_person_cannot_file(area, person):
    person.status = PersonStatus.SUSPENDED
    person.save()
    with pytest.raises(ServiceError) as exc:
        draft(person)
    assert code_of(exc) == "person_not_active"


def test_area_without_policy_uses_the_default_policy(person):
    assert filing_policy_for(region="510100").is_default
    own = policy(review_deadline_days=3)
    assert filing_policy_for(region="510100") == own


# --- Materials or a commitment ---


@pytest.mark.parametrize(
    ("group", "material", "retired"),
    [
        (FilingGroup.RETIREE, DocumentKind.HOUSEHOLD_REGISTER, True),
        (FilingGroup.RESIDENT, DocumentKind.RESIDENCE_PROOF, False),
        (FilingGroup.WORKER, DocumentKind.WORK_PROOF, False),
        (FilingGroup.REFERRAL, DocumentKind.REFERRAL_LETTER, False),
    ],
)
def test_each_group_needs_its_own_materials_without_a_commitment(area, group, material, retired):
    person = person_factory(insured_region="510100", retired=retired)
    filing = draft(person, group=group, commitment=False)
    with_document(filing, DocumentKind.ID_DOCUMENT)
    with pytest.raises(ServiceError) as exc:
        filing_submit(filing=filing, actor=person.user)
    assert code_of(exc) == "materials_missing"
    assert exc.value.fields == {"documents": [material.value]}

    with_document(filing, material)
    assert filing_submit(filing=filing, actor=person.user).status == FilingStatus.SUBMITTED


@pytest.mark.parametrize("group", [FilingGroup.RETIREE, FilingGroup.RESIDENT, FilingGroup.WORKER])
def test_signed_commitment_replaces_long_term_materials(area, group):
    person = person_factory(insured_region="510100", retired=True)
    filing = draft(person, group=group, commitment=True)
    assert filing_submit(filing=filing, actor=person.user).status == FilingStatus.SUBMITTED


def test_referral_needs_the_referral_document_not_a_commitment(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, group=FilingGroup.REFERRAL, commitment=True)
    assert code_of(exc) == "commitment_not_allowed"


def test_area_may_refuse_commitments_for_a_group(person):
    policy(instant_approval=False, rules={FilingGroup.WORKER: {"commitment_allowed": False}})
    with pytest.raises(ServiceError) as exc:
        draft(person, group=FilingGroup.WORKER, commitment=True)
    assert code_of(exc) == "commitment_not_allowed"


def test_other_temporary_treatment_needs_only_the_id(area, person):
    filing = draft(person, group=FilingGroup.TEMPORARY, commitment=False)
    assert filing_submit(filing=filing, actor=person.user).status == FilingStatus.SUBMITTED


# --- Instant approval and emergencies ---


def test_complete_commitment_filing_is_approved_at_once_where_the_area_says_so(person):
    policy(instant_approval=True)
    filing = filing_submit(filing=draft(person, commitment=True), actor=person.user)
    assert filing.status == FilingStatus.APPROVED
    approve = AuditEvent.objects.get(action="filing.approve", target_id=str(filing.pk))
    assert approve.actor is None and approve.actor_label == "system:instant-approval"
    assert filing_in_force(person=person) == filing


def test_instant_approval_does_not_apply_to_filings_with_documents(person):
    policy(instant_approval=True)
    filing = draft(person, commitment=False)
    with_document(filing, DocumentKind.RESIDENCE_PROOF)
    assert filing_submit(filing=filing, actor=person.user).status == FilingStatus.SUBMITTED


def test_emergency_counts_as_filed_without_review_or_materials(area, person):
    filing = draft(person, group=FilingGroup.EMERGENCY, commitment=False)
    filing = filing_submit(filing=filing, actor=person.user)
    assert filing.status == FilingStatus.APPROVED
    assert filing.end_date == validity_end(filing.start_date, 6)


# --- Validity ---


def test_six_months_validity_ends_the_day_before_the_same_date():
    assert validity_end(dt.date(2026, 1, 15), 6) == dt.date(2026, 7, 14)
    assert validity_end(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 27)


@pytest.mark.parametrize("group", [FilingGroup.RETIREE, FilingGroup.RESIDENT, FilingGroup.WORKER])
def test_long_term_filings_run_until_cancelled(area, group):
    person = person_factory(insured_region="510100", retired=True)
    assert draft(person, group=group).end_date is None
    with pytest.raises(ServiceError) as exc:
        draft(person, group=group, end_date=today() + dt.timedelta(days=400))
    assert code_of(exc) == "end_date_not_allowed"


@pytest.mark.parametrize("group", [FilingGroup.REFERRAL, FilingGroup.EMERGENCY, FilingGroup.TEMPORARY])
def test_temporary_filings_last_at_least_six_months(area, person, group):
    start = today()
    filing = draft(person, group=group, commitment=False, start_date=start)
    assert filing.end_date == validity_end(start, 6)
    filing_cancel(filing=filing, actor=person.user)
    with pytest.raises(ServiceError) as exc:
        draft(person, group=group, commitment=False, end_date=start + dt.timedelta(days=90))
    assert code_of(exc) == "validity_too_short"


def test_temporary_filing_may_ask_for_longer_up_to_the_area_limit(area, person):
    start = today()
    filing = draft(person, group=FilingGroup.TEMPORARY, end_date=validity_end(start, 9))
    assert filing.end_date == validity_end(start, 9)
    with pytest.raises(ServiceError) as exc:
        filing_update_draft(filing=filing, actor=person.user, end_date=validity_end(start, 13))
    assert code_of(exc) == "validity_too_long"


def test_validity_months_come_from_the_area(person):
    policy(
        instant_approval=False,
        rules={FilingGroup.TEMPORARY: {"validity_months": 12, "max_validity_months": 12}},
    )
    filing = draft(person, group=FilingGroup.TEMPORARY)
    assert filing.end_date == validity_end(today(), 12)


# --- Destinations and institutions ---


def test_destination_must_be_outside_the_insured_province(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="510700")  # Mianyang, Sichuan
    assert code_of(exc) == "destination_in_insured_province"


def test_destination_must_be_a_city_municipality_or_province(area, person):
    Region.objects.create(
        code="139901",
        name="非统筹区",
        level=RegionLevel.PREFECTURE,
        parent_id="130000",
        is_pooling_area=False,
    )
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="139901")
    assert code_of(exc) == "destination_not_allowed"


def test_unknown_destination_is_refused(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="999999")
    assert code_of(exc) == "unknown_region"


def test_whole_province_destination_accepts_any_city_in_it(area, person):
    shijiazhuang = hospital(region_code="130100", area="130102")
    baoding = hospital(region_code="130600", area="130602")
    filing = draft(person, destination="130000", institutions=[shijiazhuang.code, baoding.code])
    assert [p.institution for p in filing.picks.all()] == [shijiazhuang, baoding]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: hospital(region_code="310000", area="310104"), "institution_not_in_destination"),
        (lambda: hospital(networked=False), "institution_not_networked"),
        (lambda: hospital(active=False), "institution_not_networked"),
    ],
)
def test_picked_institutions_must_settle_in_the_destination(area, person, make, code):
    with pytest.raises(ServiceError) as exc:
        draft(person, institutions=[make().code])
    assert code_of(exc) == code


def test_picked_institutions_must_offer_the_service_the_group_needs(person):
    policy(instant_approval=False, rules={FilingGroup.REFERRAL: {"required_service": "inpatient"}})
    pharmacy = hospital(kind=InstitutionKind.PHARMACY)
    filing = draft(person, group=FilingGroup.REFERRAL, commitment=False)
    with pytest.raises(ServiceError) as exc:
        filing_update_draft(filing=filing, actor=person.user, institutions=[pharmacy.code])
    assert code_of(exc) == "institution_service_missing"


def test_unknown_institution_code_is_refused(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, institutions=["H11010599999"])
    assert code_of(exc) == "unknown_institution"


def test_area_that_requires_picks_wants_one_to_n_institutions(person):
    policy(instant_approval=False, pick_required=True, max_institutions=2)
    hospitals = [hospital() for _ in range(3)]
    filing = draft(person)
    with pytest.raises(ServiceError) as exc:
        filing_submit(filing=filing, actor=person.user)
    assert code_of(exc) == "institutions_required"
    with pytest.raises(ServiceError) as exc:
        filing_update_draft(filing=filing, actor=person.user, institutions=[h.code for h in hospitals])
    assert code_of(exc) == "too_many_institutions"
    filing_update_draft(filing=filing, actor=person.user, institutions=[hospitals[0].code])
    filing = filing_submit(filing=filing, actor=person.user)
    assert filing.status == FilingStatus.SUBMITTED and filing.pick_required


def test_without_pick_requirement_favourites_are_optional(area, person):
    filing = filing_submit(filing=draft(person), actor=person.user)
    assert filing.status == FilingStatus.SUBMITTED and filing.all_institutions


# --- Dates ---


def test_retroactive_filing_within_the_area_limit(area, person):
    assert draft(person, start_date=days_ago(30)).start_date == days_ago(30)
    with pytest.raises(ServiceError) as exc:
        draft(person, start_date=days_ago(91))
    assert code_of(exc) == "retroactive_not_allowed"


def test_area_may_forbid_retroactive_filing(person):
    policy(retroactive_days=0)
    with pytest.raises(ServiceError) as exc:
        draft(person, start_date=days_ago(1))
    assert code_of(exc) == "retroactive_not_allowed"


def test_filing_cannot_start_more_than_a_year_ahead(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, start_date=today() + dt.timedelta(days=400))
    assert code_of(exc) == "start_date_too_late"


def test_review_deadline_counts_working_days_and_holidays(area, person):
    monday = today() - dt.timedelta(days=today().weekday())
    filing = draft(person, start_date=monday if monday >= days_ago(90) else today())
    Holiday.objects.create(date=monday + dt.timedelta(days=1), name="假日")
    Holiday.objects.create(date=monday + dt.timedelta(days=5), name="调休", is_working_day=True)
    from filing.dates import working_days_after

    # Mon + 5 working days: Tue is a holiday, Sat is worked → Wed Thu Fri Sat Mon.
    assert working_days_after(monday, 5) == monday + dt.timedelta(days=7)
    filing = filing_submit(filing=filing, actor=person.user)
    assert filing.review_deadline == working_days_after(today(), 5)


# --- Waiting periods, changes, overlaps ---


def test_long_term_filing_cannot_be_cancelled_before_the_waiting_period(person):
    policy(instant_approval=True, rules={FilingGroup.RESIDENT: {"min_months_before_change": 6}})
    filing = approved(person)
    with pytest.raises(ServiceError) as exc:
        filing_cancel(filing=filing, actor=person.user)
    assert code_of(exc) == "too_early_to_cancel"

    Filing.objects.filter(pk=filing.pk).update(start_date=days_ago(200))
    filing.refresh_from_db()
    assert filing_cancel(filing=filing, actor=person.user).status == FilingStatus.CANCELLED


def test_temporary_filing_can_be_cancelled_at_once(area, person):
    filing = approved(person, group=FilingGroup.TEMPORARY)
    assert filing_cancel(filing=filing, actor=person.user).status == FilingStatus.CANCELLED


def test_change_of_destination_supersedes_the_old_filing_on_approval(person):
    policy(
        instant_approval=False,
        retroactive_days=365,
        rules={FilingGroup.RESIDENT: {"min_months_before_change": 6}},
    )
    old = approved(person, start_date=days_ago(300))
    start = today() + dt.timedelta(days=10)
    shanghai = hospital(region_code="310000", area="310104")
    change = draft(
        person, destination="310000", start_date=start, supersedes=old, institutions=[shanghai.code]
    )
    change = filing_submit(filing=change, actor=person.user)
    # While the change is reviewed, the old filing stays in force.
    assert filing_in_force(person=person) == old
    filing_approve(filing=change, actor=reviewer())
    old.refresh_from_db()
    assert old.status == FilingStatus.SUPERSEDED
    assert old.end_date == start - dt.timedelta(days=1)
    assert filing_in_force(person=person) == old  # until the day before the change starts
    assert filing_in_force(person=person, on_date=start) == change


def test_change_within_the_waiting_period_is_refused(person):
    policy(instant_approval=True, rules={FilingGroup.RESIDENT: {"min_months_before_change": 6}})
    old = approved(person)
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="310000", start_date=today() + dt.timedelta(days=1), supersedes=old)
    assert code_of(exc) == "too_early_to_change"


def test_change_must_start_after_the_filing_it_changes(person):
    policy(instant_approval=True, retroactive_days=365)
    old = approved(person, start_date=days_ago(10))
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="310000", start_date=days_ago(1), supersedes=old)
    assert code_of(exc) == "invalid_start_date"


def test_second_filing_overlapping_one_in_force_is_refused(person):
    policy(instant_approval=True)
    approved(person)
    with pytest.raises(ServiceError) as exc:
        draft(person, destination="310000")
    assert code_of(exc) == "overlapping_filing"
    assert exc.value.status_code == 409


def test_second_filing_while_one_is_under_review_is_refused(area, person):
    submitted(person)
    with pytest.raises(ServiceError) as exc:
        draft(person, group=FilingGroup.TEMPORARY, start_date=today() + dt.timedelta(days=300))
    assert code_of(exc) == "overlapping_filing"


def test_temporary_filings_that_do_not_overlap_may_follow_each_other(area, person):
    first = approved(person, group=FilingGroup.TEMPORARY)
    second = draft(person, group=FilingGroup.TEMPORARY, start_date=first.end_date + dt.timedelta(days=1))
    second = filing_submit(filing=second, actor=person.user)
    filing_approve(filing=second, actor=reviewer())
    assert filing_in_force(person=person) == first


def test_emergency_episode_does_not_block_a_regular_filing(area, person):
    filing_submit(
        filing=draft(person, group=FilingGroup.EMERGENCY, destination="330100", commitment=False),
        actor=person.user,
    )
    assert filing_submit(filing=draft(person), actor=person.user).status == FilingStatus.SUBMITTED


# --- Proxy and channel ---


def test_family_member_files_as_proxy_recorded_encrypted_and_shown_masked(area, person):
    proxy = {"name": "王小明", "id_number": "11010519491231002X", "phone": "13912345678", "relation": "child"}
    filing = draft(person, proxy=proxy)
    filing.refresh_from_db()
    assert filing.proxy_id_number == "11010519491231002X"
    assert filing.proxy_masked == {
        "name": "王*明",
        "id_number": "110***********002X",
        "phone": "139****5678",
        "relation": "child",
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT proxy_id_number, proxy_phone FROM filing_filing WHERE id = %s", [filing.pk])
        stored = " ".join(cursor.fetchone())
    assert "11010519491231002X" not in stored and "13912345678" not in stored


def test_proxy_with_an_invalid_id_number_is_refused(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(
            person,
            proxy={
                "name": "王小明",
                "id_number": "110105194912310021",
                "phone": "13912345678",
                "relation": "child",
            },
        )
    assert code_of(exc) == "invalid_proxy"
    assert "proxy.id_number" in exc.value.fields


def test_service_window_channel_is_for_agency_staff(area, person):
    with pytest.raises(ServiceError) as exc:
        draft(person, channel="window")
    assert code_of(exc) == "invalid_channel"
    clerk = reviewer()
    filing = filing_create_draft(
        person=person,
        actor=clerk,
        group=FilingGroup.RESIDENT,
        destination="110000",
        start_date=today(),
        commitment=True,
        channel="window",
    )
    assert filing.channel == "window"
    assert filing_submit(filing=filing, actor=clerk).status == FilingStatus.SUBMITTED


def test_idempotency_key_returns_the_same_draft(area, person):
    first = draft(person, idempotency_key="k-1")
    second = draft(person, idempotency_key="k-1")
    assert first.pk == second.pk
    assert Filing.objects.filter(person=person).count() == 1
