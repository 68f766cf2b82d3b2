"""The one reviewer-area rule (accounts/scopes.py): a superuser all, a reviewer their own area, others none."""

import pytest
from django.db.models import Q

from accounts.choices import Role
from accounts.models import InsuredPerson, User
from accounts.scopes import in_scope, scope, staff_area
from filing.models import FilingPolicy
from tests.factories import PASSWORD, ReviewerFactory, person_factory, region

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def people():
    return person_factory(insured_region="510100"), person_factory(insured_region="230100")


def test_reviewer_sees_only_rows_of_their_own_area(people):
    own, other = people
    reviewer = ReviewerFactory(region_code="510100")
    assert staff_area(reviewer) == "510100"
    assert list(scope(InsuredPerson.objects.all(), reviewer, "insured_region_id")) == [own]
    assert in_scope(own, reviewer, "insured_region_id")
    assert not in_scope(other, reviewer, "insured_region_id")


def test_path_follows_relations(people):
    own, other = people
    reviewer = ReviewerFactory(region_code="230100")
    users = scope(User.objects.filter(role=Role.PERSON), reviewer, "person__insured_region_id")
    assert list(users) == [other.user]
    assert in_scope(other.user, reviewer, "person__insured_region_id")
    assert not in_scope(own.user, reviewer, "person__insured_region_id")


def test_superuser_sees_every_area_even_with_a_reviewer_role(people):
    root = User.objects.create_superuser(
        "root", password=PASSWORD, role=Role.REVIEWER, region=region("510100")
    )
    assert staff_area(root) is None
    assert set(scope(InsuredPerson.objects.all(), root, "insured_region_id")) == set(people)
    assert all(in_scope(p, root, "insured_region_id") for p in people)


def test_other_users_see_no_area(people):
    counter_staff = User.objects.create_user("clerk", password=PASSWORD, role=Role.ADMIN, is_staff=True)
    person = people[0].user
    for user in (counter_staff, person, None):
        assert staff_area(user) is None
        assert not scope(InsuredPerson.objects.all(), user, "insured_region_id").exists()
        assert not in_scope(people[0], user, "insured_region_id")


def test_also_adds_rows_every_staff_user_reads():
    FilingPolicy.objects.create(region=region("510100"))
    FilingPolicy.objects.create(region=region("230100"))
    reviewer = ReviewerFactory(region_code="510100")
    seen = scope(FilingPolicy.objects.all(), reviewer, "region_id", also=Q(region__isnull=True))
    assert sorted(p.region_id or "" for p in seen) == ["", "510100"]
    assert not in_scope(FilingPolicy.objects.get(region__isnull=True), reviewer, "region_id")
