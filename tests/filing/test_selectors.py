"""What the counter asks: is a filing in force here today, and if not, why; emergencies that count as filed."""

import datetime as dt

import pytest

from core.audit import audit_history
from core.errors import ServiceError
from filing.choices import Channel, FilingGroup, FilingStatus
from filing.dates import today
from filing.selectors import filing_coverage, filing_in_force, filing_rules_preview
from filing.services import filing_record_emergency
from reference.choices import InstitutionKind
from tests.factories import CounterFactory, person_factory

from .factories import approved, days_ago, draft, hospital, policy

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def person():
    policy(instant_approval=True, retroactive_days=90)
    return person_factory(insured_region="510100")


def test_no_filing_means_no_direct_settlement(person):
    coverage = filing_coverage(person=person, institution=hospital())
    assert (coverage.filing, coverage.applies, coverage.reason) == (None, False, "no_filing")
    assert filing_in_force(person=person) is None


def test_filing_in_force_at_every_networked_institution_of_the_destination(person):
    filing = approved(person)
    here = hospital()
    assert filing_in_force(person=person) == filing
    assert filing_in_force(person=person, institution=here) == filing
    assert filing_coverage(person=person, institution=here).reason == "ok"


def test_filing_for_another_destination_does_not_apply(person):
    filing = approved(person)
    shanghai = hospital(region_code="310000", area="310104")
    coverage = filing_coverage(person=person, institution=shanghai)
    assert (coverage.filing, coverage.applies, coverage.reason) == (filing, False, "other_destination")
    assert filing_in_force(person=person, institution=shanghai) is None


def test_institution_that_is_not_networked_cannot_settle(person):
    approved(person)
    for institution in (hospital(networked=False), hospital(active=False)):
        coverage = filing_coverage(person=person, institution=institution)
        assert (coverage.applies, coverage.reason) == (False, "institution_not_networked")


def test_where_picks_are_required_only_picked_institutions_settle():
    policy(instant_approval=True, pick_required=True)
    person = person_factory(insured_region="510100")
    picked, other = hospital(), hospital()
    filing = approved(person, institutions=[picked.code])
    assert filing_coverage(person=person, institution=picked).applies
    coverage = filing_coverage(person=person, institution=other)
    assert (coverage.filing, coverage.reason) == (filing, "institution_not_picked")


def test_picks_made_as_favourites_do_not_limit_settlement(person):
    favourite, other = hospital(), hospital()
    approved(person, institutions=[favourite.code])
    assert filing_coverage(person=person, institution=other).applies


def test_service_the_institution_does_not_offer(person):
    approved(person)
    pharmacy = hospital(kind=InstitutionKind.PHARMACY)
    assert filing_coverage(person=person, institution=pharmacy, service="general_outpatient").applies
    coverage = filing_coverage(person=person, institution=pharmacy, service="inpatient")
    assert (coverage.applies, coverage.reason) == (False, "service_not_offered")


def test_filing_in_force_respects_its_dates(person):
    filing = approved(person, group=FilingGroup.TEMPORARY, start_date=days_ago(10))
    assert filing_in_force(person=person, on_date=days_ago(11)) is None
    assert filing_in_force(person=person, on_date=days_ago(10)) == filing
    assert filing_in_force(person=person, on_date=filing.end_date) == filing
    assert filing_in_force(person=person, on_date=filing.end_date + dt.timedelta(days=1)) is None


def test_submitted_filing_is_not_in_force():
    policy(instant_approval=False)
    person = person_factory(insured_region="510100")
    from filing.services import filing_submit

    filing_submit(filing=draft(person), actor=person.user)
    assert filing_in_force(person=person) is None


def test_coverage_check_is_cheap(person, django_assert_max_num_queries):
    policy(instant_approval=True, pick_required=True)
    picked = hospital()
    approved(person, institutions=[picked.code])
    with django_assert_max_num_queries(2):
        assert filing_coverage(person=person, institution=picked).applies
    with django_assert_max_num_queries(1):
        assert filing_in_force(person=person) is not None


# --- Emergencies that count as filed ---


def test_emergency_without_filing_is_recorded_as_an_approved_filing(person):
    hangzhou = hospital(region_code="330100", area="330102")
    counter = CounterFactory(institution=hangzhou)
    filing = filing_record_emergency(person=person, institution=hangzhou, on_date=today(), actor=counter)
    assert filing.status == FilingStatus.APPROVED and filing.group == FilingGroup.EMERGENCY
    assert filing.destination_id == "330100" and filing.channel == Channel.INSTITUTION
    assert filing_coverage(person=person, institution=hangzhou).applies
    actions = list(audit_history(filing).values_list("action", "actor"))
    assert actions == [("filing.create", counter.pk), ("filing.record_emergency", counter.pk)]


def test_emergency_where_a_filing_is_in_force_returns_that_filing(person):
    filing = approved(person)
    beijing = hospital()
    assert filing_record_emergency(person=person, institution=beijing, on_date=today(), actor=None) == filing


def test_emergency_in_another_destination_does_not_disturb_the_long_term_filing(person):
    filing = approved(person)
    hangzhou = hospital(region_code="330100", area="330102")
    emergency = filing_record_emergency(person=person, institution=hangzhou, on_date=today(), actor=None)
    assert emergency != filing
    assert filing_in_force(person=person) == filing
    assert filing_in_force(person=person, institution=hangzhou) == emergency
    again = filing_record_emergency(person=person, institution=hangzhou, on_date=today(), actor=None)
    assert again == emergency


def test_emergency_in_the_insured_province_is_not_cross_provincial(person):
    chengdu = hospital(region_code="510100", area="510104")
    with pytest.raises(ServiceError) as exc:
        filing_record_emergency(person=person, institution=chengdu, on_date=today(), actor=None)
    assert exc.value.code == "destination_in_insured_province"


# --- Rules preview ---


def test_rules_preview_shows_what_filing_would_take(person):
    policy(
        instant_approval=False,
        pick_required=True,
        max_institutions=3,
        review_deadline_days=5,
        rules={FilingGroup.RESIDENT: {"min_months_before_change": 6}},
    )
    hospital(), hospital(networked=False)
    preview = filing_rules_preview(person=person, group="resident", destination="110000")
    assert preview["eligible"] and preview["reasons"] == []
    assert [m["kind"] for m in preview["materials"]] == ["residence_proof"]
    assert preview["commitment_allowed"] and preview["pick_required"] and preview["max_institutions"] == 3
    assert preview["review_deadline_days"] == 5 and preview["min_months_before_change"] == 6
    assert preview["validity_months"] is None and preview["long_term"]
    assert preview["networked_institutions_count"] == 1


def test_rules_preview_explains_why_a_person_is_not_eligible(person):
    preview = filing_rules_preview(person=person, group="retiree", destination="510700")
    assert not preview["eligible"]
    assert [r["code"] for r in preview["reasons"]] == ["not_retired", "destination_in_insured_province"]
