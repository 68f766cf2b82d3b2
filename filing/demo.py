"""Demo filing policies for the demo insured areas, and filings in force for the demo worker and retiree.

Areas without a policy of their own use the default policy (national rules) created by migration 0003.
Idempotent: existing policies and rules are left as they are (an agency may have edited them), and a person who
already has a filing in force gets no second one.
"""

from __future__ import annotations

import datetime as dt

from accounts.models import User
from reference.models import Institution

from .choices import Channel, FilingGroup, FilingStatus
from .coverage import filing_coverage, filing_in_force
from .dates import today
from .models import FilingPolicy, GroupRule
from .policy import filing_policy_default_ensure, national_rules
from .selectors import filing_policy_for
from .services import filing_approve, filing_create_draft, filing_submit

R, T = FilingGroup.REFERRAL, FilingGroup.TEMPORARY
# area: (policy fields, group rules)
POLICIES = {
    # Harbin: reviewed within 10 working days, six months before a change, generous retroactive filing.
    "230100": (
        {"review_deadline_days": 10, "instant_approval": False, "retroactive_days": 180},
        national_rules(wait=6),
    ),
    # Chengdu: commitment filings approved at once, five working days otherwise.
    "510100": (
        {"review_deadline_days": 5, "instant_approval": True, "retroactive_days": 90},
        national_rules(wait=3),
    ),
    # Shijiazhuang: reviewed within 10 working days.
    "130100": (
        {"review_deadline_days": 10, "instant_approval": False, "retroactive_days": 60},
        national_rules(wait=6),
    ),
    # Baoding: still asks people to pick 1 to 4 institutions; referrals need inpatient care; workers must prove
    # their work (no commitment).
    "130600": (
        {
            "review_deadline_days": 10,
            "instant_approval": False,
            "retroactive_days": 30,
            "pick_required": True,
            "max_institutions": 4,
        },
        national_rules(
            wait=6,
            **{R: {"required_service": "inpatient"}, FilingGroup.WORKER: {"commitment_allowed": False}},
        ),
    ),
    # Shenzhen: instant approval of commitment filings, no retroactive filing, no waiting period.
    "440300": (
        {"review_deadline_days": 5, "instant_approval": True, "retroactive_days": 0},
        national_rules(wait=0),
    ),
    # Hangzhou: commitment filings approved at once; temporary filings may run up to a year.
    "330100": (
        {"review_deadline_days": 5, "instant_approval": True, "retroactive_days": 90},
        national_rules(wait=3, **{T: {"max_validity_months": 12}}),
    ),
}
# Demo people who get a filing in force, so the e-code and settlement demos have something to show.
FILED_GROUPS = (FilingGroup.WORKER, FilingGroup.RETIREE)
FILED_DAYS_AGO = 30


def seed(demo) -> None:
    filing_policy_default_ensure()
    for code, (fields, rules) in POLICIES.items():
        policy, _ = FilingPolicy.objects.get_or_create(region_id=code, defaults=fields)
        for group, values in rules.items():
            GroupRule.objects.get_or_create(policy=policy, group=group, defaults=values)

    for group in FILED_GROUPS:
        person = demo.persons_by_group.get(group)
        if person is None or filing_in_force(person=person) is not None:
            continue
        filing = filing_create_draft(
            person=person,
            actor=person.user,
            group=group,
            destination=demo.destinations[group],
            start_date=today() - dt.timedelta(days=FILED_DAYS_AGO),
            commitment=True,
            channel=Channel.MINI_PROGRAM,
        )
        filing = filing_submit(filing=filing, actor=person.user)
        if filing.status == FilingStatus.SUBMITTED:
            reviewer = User.objects.get(username=f"reviewer-{person.insured_region_id}")
            filing_approve(filing=filing, actor=reviewer)

    _describe(demo)


def _describe(demo) -> None:
    """Tells the printed accounts who has a filing in force, and at which demo counters it settles directly."""
    institutions = {
        i.code: i for i in Institution.objects.filter(code__in=[c["institution_code"] for c in demo.counters])
    }
    for counter in demo.counters:
        counter["settles_for"] = []
    for entry in demo.people:
        person = demo.persons_by_group.get(entry["group"])
        entry["instant_approval"] = filing_policy_for(region=entry["insured_region"]).instant_approval
        filing = filing_in_force(person=person) if person else None
        entry["filing"] = (
            {
                "serial": filing.serial,
                "status": filing.status,
                "destination": filing.destination_id,
                "destination_name": filing.destination.full_name,
            }
            if filing
            else None
        )
        if filing is None:
            continue
        for counter in demo.counters:
            institution = institutions.get(counter["institution_code"])
            if institution and filing_coverage(person=person, institution=institution).applies:
                counter["settles_for"].append(entry["phone"])
