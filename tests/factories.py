"""Factories for the foundation: institutions, insured people, reviewers, counters and their keys.

Regions come from the shipped GB/T 2260 data (loaded by a migration), so factories look them up by code.
App-specific factories live next to the app's tests (`tests/<app>/factories.py`).
"""

from __future__ import annotations

import itertools

import factory

from accounts.choices import Role
from accounts.models import User
from accounts.services import api_key_create, person_create
from core.validators import id_check_character
from reference.choices import InstitutionKind, Scheme
from reference.models import Institution, Region

PASSWORD = "Pass@word-2026"
_seq = itertools.count(1)


def region(code: str) -> Region:
    return Region.objects.get(code=code)


def make_id_number(area: str = "110105", birth: str = "19800101", seq: int | None = None) -> str:
    seq = next(_seq) % 1000 if seq is None else seq
    first17 = f"{area}{birth}{seq:03d}"
    return first17 + id_check_character(first17)


_phones = itertools.count(13900000000)


def make_phone() -> str:
    return str(next(_phones) + 1)


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution

    class Params:
        region_code = "110000"
        area = "110105"

    kind = InstitutionKind.HOSPITAL
    code = factory.LazyAttributeSequence(
        lambda o, n: f"{'P' if o.kind == InstitutionKind.PHARMACY else 'H'}{o.area}{90000 + n:05d}"
    )
    name = factory.Sequence(lambda n: f"测试医院{n}")
    level = factory.LazyAttribute(lambda o: 0 if o.kind == InstitutionKind.PHARMACY else 3)
    region = factory.LazyAttribute(lambda o: region(o.region_code))
    inpatient = factory.LazyAttribute(lambda o: o.kind != InstitutionKind.PHARMACY)
    general_outpatient = True
    chronic_outpatient = factory.LazyAttribute(lambda o: o.kind != InstitutionKind.PHARMACY)
    networked = True
    active = True


def person_factory(
    *,
    name: str = "张三明",
    insured_region: str = "510100",
    scheme: str = Scheme.EMPLOYEE,
    retired: bool = False,
    id_number: str | None = None,
    phone: str | None = None,
    password: str | None = PASSWORD,
    birth: str = "19800101",
    **extra,
):
    """An insured person with a sign-in account (password `PASSWORD`)."""
    return person_create(
        name=name,
        id_number=id_number or make_id_number(insured_region[:4] + "04", birth),
        phone=phone or make_phone(),
        insured_region=region(insured_region),
        scheme=scheme,
        retired=retired,
        password=password,
        **extra,
    )


class ReviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        region_code = "510100"

    username = factory.Sequence(lambda n: f"reviewer{n}")
    role = Role.REVIEWER
    is_staff = True
    region = factory.LazyAttribute(lambda o: region(o.region_code))

    @factory.post_generation
    def setup(obj, create, extracted, **kwargs):
        from accounts.roles import reviewers_group

        obj.set_password(PASSWORD)
        obj.save()
        obj.groups.add(reviewers_group())


class CounterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"counter{n}")
    role = Role.COUNTER
    institution = factory.SubFactory(InstitutionFactory)

    @factory.post_generation
    def setup(obj, create, extracted, **kwargs):
        obj.set_password(PASSWORD)
        obj.save()


def counter_with_key(**kwargs) -> tuple[User, str]:
    """A counter operator and the clear API key of its terminal."""
    operator = CounterFactory(**kwargs)
    _, clear = api_key_create(operator=operator, name="test terminal")
    return operator, clear
