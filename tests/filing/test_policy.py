"""The national filing rules have one home (filing/policy.py): the migration, the demo and reads agree with it."""

import importlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from filing import demo
from filing.choices import FilingGroup
from filing.models import FilingPolicy, GroupRule
from filing.policy import DEFAULT_POLICY_FIELDS, filing_policy_default_ensure, national_rules
from filing.selectors import filing_policy_for, group_rule_of


def test_the_migration_writes_the_national_rules():
    migration = importlib.import_module("filing.migrations.0003_default_filing_policy")
    written = {group: {"materials": [], **values} for group, values in migration.RULES.items()}
    assert national_rules() == written


def test_demo_areas_start_from_the_national_rules():
    fields, rules = demo.POLICIES["130600"]
    assert rules[FilingGroup.REFERRAL] == {
        **national_rules()[FilingGroup.REFERRAL],
        "required_service": "inpatient",
    }
    assert rules[FilingGroup.WORKER]["commitment_allowed"] is False
    assert rules[FilingGroup.WORKER]["min_months_before_change"] == 6
    assert "min_months_before_change" not in rules[FilingGroup.EMERGENCY]


@pytest.mark.django_db
@pytest.mark.embedded
def test_reading_a_policy_creates_nothing_and_a_missing_default_is_reported():
    default = FilingPolicy.objects.get(region__isnull=True)
    assert filing_policy_for(region="510100") == default
    GroupRule.objects.filter(policy=default).delete()
    default.delete()
    with pytest.raises(ImproperlyConfigured):
        filing_policy_for(region="510100")
    assert not FilingPolicy.objects.exists()
    restored = filing_policy_default_ensure()
    assert restored.region_id is None
    assert {f: getattr(restored, f) for f in DEFAULT_POLICY_FIELDS} == DEFAULT_POLICY_FIELDS
    rule = group_rule_of(policy=filing_policy_for(region="510100"), group=FilingGroup.REFERRAL)
    assert (rule.validity_months, rule.materials) == (6, ["referral_letter"])


@pytest.mark.django_db
@pytest.mark.embedded
def test_the_preview_shows_the_cut_the_settlement_policy_makes_for_the_group():
    from decimal import Decimal

    from filing.selectors import filing_rules_preview
    from tests.factories import person_factory
    from tests.settlement import factories as settlement_factories

    person = person_factory(insured_region="510100")
    settlement_factories.policy(region_code="510100", scheme=person.scheme, temporary_cut=Decimal("0.15"))
    preview = filing_rules_preview(person=person, group="temporary", destination="110000")
    assert preview["ratio_reduction_points"] == 15
    assert (
        filing_rules_preview(person=person, group="resident", destination="110000")["ratio_reduction_points"]
        == 0
    )
