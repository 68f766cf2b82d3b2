"""Region geometry and institution search in one place (reference/selectors.py)."""

import pytest

from reference.choices import InstitutionKind, Service
from reference.selectors import (
    area_inside,
    institution_search,
    province_code,
    region_covers,
    same_province,
)
from tests.factories import InstitutionFactory, region


def test_province_of_an_area_code():
    assert province_code("510100") == "510000"
    assert province_code("510104") == "510000"


def test_same_province_compares_the_first_two_digits():
    assert same_province("510100", "513200")
    assert not same_province("510100", "110000")


def test_a_province_covers_its_areas_and_a_pooling_area_only_itself():
    assert region_covers("510000", "510100")
    assert not region_covers("510000", "110100")
    assert region_covers("510100", "510100")
    assert not region_covers("510100", "513200")


@pytest.mark.django_db
def test_area_inside_a_province_or_a_prefecture():
    assert area_inside("510104", region("510000"))
    assert area_inside("510104", region("510100"))
    assert not area_inside("513201", region("510100"))
    assert not area_inside("110105", region("510000"))


@pytest.mark.django_db
@pytest.mark.embedded
def test_institution_search_filters_and_orders_best_first():
    high = InstitutionFactory(region_code="510100", area="510104", level=3, name="华西医院")
    low = InstitutionFactory(region_code="510100", area="510104", level=1, name="社区卫生服务中心")
    off_network = InstitutionFactory(region_code="510100", area="510104", networked=False)
    pharmacy = InstitutionFactory(region_code="510100", area="510104", kind=InstitutionKind.PHARMACY)
    inactive = InstitutionFactory(region_code="510100", area="510104", active=False)
    elsewhere = InstitutionFactory(region_code="110000", area="110105")

    in_province = list(institution_search(region=region("510000")))
    assert in_province == sorted(in_province, key=lambda i: (-i.level, i.code))
    assert in_province.index(high) < in_province.index(low)
    assert off_network in in_province and pharmacy in in_province
    assert inactive not in in_province and elsewhere not in in_province

    assert off_network not in institution_search(region=region("510100"), networked=True)
    assert list(institution_search(region=region("510100"), term="华西")) == [high]
    assert list(institution_search(term=f" {low.code.lower()} ")) == [low]
    assert list(institution_search(region=region("510100"), kind=InstitutionKind.PHARMACY)) == [pharmacy]
    assert pharmacy not in institution_search(region=region("510100"), service=Service.INPATIENT)
    assert list(institution_search(region=region("510100"), level=1)) == [low]
