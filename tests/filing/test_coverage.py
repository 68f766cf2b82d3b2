"""The in-force rule has one definition (filing/coverage.py): the SQL the counter's one-statement check uses
finds exactly the filings the ORM condition finds."""

import datetime as dt
import itertools

import pytest
from django.db import connection

from filing.choices import FilingStatus
from filing.coverage import filings_in_force, filings_in_force_here, in_force_params, in_force_sql
from filing.dates import today
from filing.models import Filing
from tests.factories import person_factory

from .factories import approved, hospital, policy

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _by_sql(person, on_date) -> set[int]:
    table = Filing._meta.db_table
    person_column = Filing._meta.get_field("person").column
    sql = f'SELECT f."id" FROM "{table}" f WHERE f."{person_column}" = %s AND {in_force_sql("f")}'  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, (person.pk, *in_force_params(on_date)))
        return {row[0] for row in cursor.fetchall()}


def test_the_sql_condition_and_the_orm_condition_agree_on_every_status_and_edge_day():
    policy(instant_approval=True, retroactive_days=90)
    person = person_factory(insured_region="510100")
    filing = approved(person)
    start = today()
    ends = [None, start, start + dt.timedelta(days=30)]
    days = [start - dt.timedelta(days=1), start, start + dt.timedelta(days=30), start + dt.timedelta(days=31)]
    found_any = False
    for status, end in itertools.product(FilingStatus.values, ends):
        Filing.objects.filter(pk=filing.pk).update(status=status, start_date=start, end_date=end)
        for day in days:
            by_orm = set(filings_in_force(person=person, on_date=day).values_list("pk", flat=True))
            assert _by_sql(person, day) == by_orm, (status, end, day)
            found_any = found_any or bool(by_orm)
    assert found_any


def test_filings_in_force_here_follow_the_destination():
    policy(instant_approval=True, retroactive_days=90)
    person = person_factory(insured_region="510100")
    filing = approved(person)  # for Beijing
    assert filings_in_force_here(person=person, institution=hospital(), on_date=today()) == {filing.pk}
    shanghai = hospital(region_code="310000", area="310101")
    assert filings_in_force_here(person=person, institution=shanghai, on_date=today()) == set()
    assert (
        filings_in_force_here(
            person=person, institution=hospital(), on_date=filing.start_date - dt.timedelta(1)
        )
        == set()
    )
