"""Concurrent settlements of one person on PostgreSQL: the accumulators stay exact (committed transactions)."""

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from core.errors import ServiceError
from filing.dates import today
from reference.models import Region
from reference.services import regions_load
from settlement.models import Accumulator, Settlement
from settlement.services import settlement_create, settlement_reverse
from tests.factories import person_factory
from tests.settlement import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _regions():
    """A transactional test ends with a flush that also empties the regions loaded by migration: put them back."""
    if not Region.objects.exists():
        regions_load(region_model=Region)
    yield
    if not Region.objects.exists():
        regions_load(region_model=Region)


def run_together(jobs):
    barrier = threading.Barrier(len(jobs))
    results, errors = [], []

    def run(job):
        try:
            barrier.wait()
            results.append(job())
        except ServiceError as exc:
            errors.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_concurrent_settlements_charge_the_deductible_once_and_sum_exactly():
    """Six general-outpatient bills of ¥150 (甲) at once; the deductible is ¥200 a year, ratio 50 %.
    Whatever the order: deductibles add up to 200.00 and the fund pays (900 − 200) × 50 % = 350.00."""
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    uses = [f.consumed_use(person, operator) for _ in range(6)]

    def job(use_id):
        return lambda: settlement_create(
            operator=operator,
            visit_type="general_outpatient",
            visit_date=today(),
            use_id=use_id,
            items=f.items(("XJ01CAA040A001", 6, "25.00")),
        )[0]

    results, errors = run_together([job(u) for u in uses])
    assert errors == [] and len(results) == 6
    settlements = list(Settlement.objects.filter(person=person))
    assert sum(s.deductible for s in settlements) == D("200.00")
    assert sum(s.basic_fund for s in settlements) == D("350.00")
    acc = Accumulator.objects.get(person=person)
    assert acc.deductible_general_outpatient == D("200.00")
    assert acc.basic_fund_paid == D("350.00")
    assert acc.burden == sum(s.eligible - s.basic_fund for s in settlements) == D("550.00")


def test_concurrent_settlements_and_reversals_leave_the_sum_of_the_survivors():
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()

    def settle():
        return settlement_create(
            operator=operator,
            visit_type="general_outpatient",
            visit_date=today(),
            use_id=f.consumed_use(person, operator),
            items=f.items(("XJ01CAA040A001", 4, "25.00")),
        )[0]

    early = [settle() for _ in range(3)]
    uses = [f.consumed_use(person, operator) for _ in range(3)]
    # Only the newest settlement may be reversed; racing new ones, the reversal either lands first or is
    # refused because a later settlement now stands on top of it.
    jobs = [lambda s=early[-1]: settlement_reverse(settlement_id=s.pk, operator=operator)]
    jobs += [
        lambda u=u: settlement_create(
            operator=operator,
            visit_type="general_outpatient",
            visit_date=today(),
            use_id=u,
            items=f.items(("XJ01CAA040A001", 4, "25.00")),
        )[0]
        for u in uses
    ]
    _results, errors = run_together(jobs)
    assert set(errors) <= {"later_settlement_exists"} and len(errors) <= 1
    alive = Settlement.objects.filter(person=person, status="settled")
    assert alive.count() == 6 - (1 - len(errors))
    acc = Accumulator.objects.get(person=person)
    assert acc.deductible_general_outpatient == sum(s.deductible for s in alive)
    assert acc.basic_fund_paid == sum(s.basic_fund for s in alive)
    assert acc.burden == sum(s.eligible - s.basic_fund for s in alive)


def test_the_same_use_sent_twice_at_once_settles_once():
    f.policy()
    f.catalogue_item("XJ01CAA040A001", "阿莫西林胶囊", "A")
    person = person_factory()
    f.filed(person)
    operator, _key = f.counter()
    use_id = f.consumed_use(person, operator)

    def job():
        return settlement_create(
            operator=operator,
            visit_type="general_outpatient",
            visit_date=today(),
            use_id=use_id,
            items=f.items(("XJ01CAA040A001", 4, "25.00")),
        )[0]

    results, errors = run_together([job for _ in range(4)])
    assert len(results) == 1 and errors == ["use_already_settled"] * 3
    assert Accumulator.objects.get(person=person).basic_fund_paid == results[0].basic_fund
