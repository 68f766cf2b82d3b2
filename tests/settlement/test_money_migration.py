"""settlement 0003 converts every money column from decimal yuan to whole fen exactly, and back when unapplied:
rows written with the old schema read the same afterwards, on PostgreSQL and on SQLite (where the old values
were stored as floats)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import person_factory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

BEFORE = ("settlement", "0002_group_cuts_up_to_20_points")
AFTER = ("settlement", "0003_money_in_whole_fen")
AMOUNTS = [
    D("0.01"),
    D("0.10"),
    D("1440.46"),
    D("2679.60"),
    D("4120.06"),
    D("123456789.99"),
    D("999999999999.99"),
]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target] if target else executor.loader.graph.leaf_nodes())
    return MigrationExecutor(connection).loader.project_state([target] if target else None).apps


def column(table, name, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {name} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_money_written_in_yuan_reads_the_same_in_fen_and_back():
    person = person_factory()
    try:
        old = migrate(BEFORE)
        Prepayment = old.get_model("settlement", "Prepayment")
        payments = [
            Prepayment.objects.create(
                payer_province_id="510000", receiver_province_id="110000", month=dt.date(2026, 1, 1), amount=a
            ).pk
            for a in AMOUNTS
        ]
        Policy = old.get_model("settlement", "Policy")
        policy = Policy.objects.create(
            region_id="510100",
            scheme="employee",
            year=2026,
            effective_from=dt.date(2026, 1, 1),
            annual_cap=D("300000.00"),
            critical_threshold=D("15000.37"),
            critical_cap=D("400000.00"),
        )
        old.get_model("settlement", "PolicyRate").objects.create(
            policy=policy,
            visit_type="inpatient",
            institution_level=3,
            deductible=D("1300.55"),
            fund_ratio=D("0.55"),
        )
        accumulator = old.get_model("settlement", "Accumulator").objects.create(
            person_id=person.pk,
            year=2026,
            scheme="employee",
            basic_fund_paid=D("25300.07"),
            burden=D("22000.93"),
        )
        statement = old.get_model("settlement", "ClearingStatement").objects.create(
            month=dt.date(2026, 1, 1),
            insured_province_id="510000",
            treatment_province_id="110000",
            total=D("50000.00"),
            basic_fund=D("25300.00"),
            critical_fund=D("6000.00"),
            assistance_fund=D("14400.00"),
            fund_total=D("45700.00"),
            person_pays=D("4300.00"),
        )

        new = migrate(AFTER)
        assert [column("settlement_prepayment", "amount", pk) for pk in payments] == [
            int(a * 100) for a in AMOUNTS
        ]
        Prepayment = new.get_model("settlement", "Prepayment")
        assert [Prepayment.objects.get(pk=pk).amount for pk in payments] == AMOUNTS
        assert new.get_model("settlement", "Policy").objects.get(pk=policy.pk).critical_threshold == D(
            "15000.37"
        )
        assert new.get_model("settlement", "PolicyRate").objects.get().deductible == D("1300.55")
        acc = new.get_model("settlement", "Accumulator").objects.get(pk=accumulator.pk)
        assert (acc.basic_fund_paid, acc.burden, acc.critical_fund_paid) == (
            D("25300.07"),
            D("22000.93"),
            D("0.00"),
        )
        moved = new.get_model("settlement", "ClearingStatement").objects.get(pk=statement.pk)
        assert (moved.fund_total, moved.person_pays) == (D("45700.00"), D("4300.00"))
        # The adding-up check is back, under its name, and compares fen.
        constraints = connection.introspection.get_constraints(
            connection.cursor(), "settlement_clearingstatement"
        )
        assert "clearing_funds_add_up" in constraints

        old = migrate(BEFORE)
        Prepayment = old.get_model("settlement", "Prepayment")
        assert [Prepayment.objects.get(pk=pk).amount for pk in payments] == AMOUNTS
        acc = old.get_model("settlement", "Accumulator").objects.get(pk=accumulator.pk)
        assert (acc.basic_fund_paid, acc.burden) == (D("25300.07"), D("22000.93"))
    finally:
        migrate(None)
