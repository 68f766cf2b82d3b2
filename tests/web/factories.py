"""Helpers for the page tests: a Chengdu resident filing for Beijing, where networked hospitals exist."""

from __future__ import annotations

from filing.models import FilingPolicy
from tests.factories import CounterFactory, InstitutionFactory, person_factory
from tests.filing.factories import policy

INSURED = "510100"  # Chengdu, Sichuan
DESTINATION = "110000"  # Beijing


def chengdu_policy(**fields) -> FilingPolicy:
    """Chengdu's policy: reviewed by a person (no instant approval) unless told otherwise."""
    return policy(
        INSURED, **{"instant_approval": False, "pick_required": False, "max_institutions": 4, **fields}
    )


def beijing_hospitals(count: int = 3) -> list:
    return [
        InstitutionFactory(region_code=DESTINATION, area="110105", name=f"北京测试医院{i}")
        for i in range(count)
    ]


def resident(**kwargs):
    return person_factory(insured_region=INSURED, **kwargs)


def counter_at(institution):
    return CounterFactory(institution=institution)
