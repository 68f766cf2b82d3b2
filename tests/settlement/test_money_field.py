"""core.money.MoneyField on the settlement's money columns: Decimal yuan in Python, whole fen in the database,
exact in lookups, arithmetic, aggregates, check constraints and admin forms, on PostgreSQL and SQLite."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django import forms
from django.core import serializers
from django.core.exceptions import FieldError, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Avg, F, Max, Min, Sum

from core.money import MoneyField, money_value
from settlement.models import ClearingStatement, Prepayment

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]
MONTH = dt.date(2026, 3, 1)


def prepay(amount, payer="510000", receiver="110000"):
    return Prepayment.objects.create(
        payer_province_id=payer, receiver_province_id=receiver, month=MONTH, amount=amount
    )


def stored(model, pk, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_stored_as_whole_fen_and_read_as_yuan_with_two_decimals():
    payment = prepay(D("4120.06"))
    assert stored(Prepayment, payment.pk, "amount") == 412006
    assert type(stored(Prepayment, payment.pk, "amount")) is int
    assert Prepayment.objects.get().amount == D("4120.06")
    assert str(prepay(D("7")).amount) == "7"  # as given, until read back
    assert [str(p.amount) for p in Prepayment.objects.order_by("amount")] == ["7.00", "4120.06"]


@pytest.mark.parametrize("amount", [D("0.005"), D("1440.461"), "12.345", 0.1])
def test_a_fraction_of_a_fen_or_a_float_is_refused_never_rounded(amount):
    with pytest.raises(ValidationError), transaction.atomic():
        prepay(amount)
    assert not Prepayment.objects.exists()
    with pytest.raises(ValidationError):
        MoneyField().clean(amount, None)


def test_whole_fen_in_any_spelling_is_accepted():
    field = MoneyField()
    assert field.clean("12.3", None) == D("12.30")
    assert field.clean(" 12.300 ", None) == D("12.30")
    assert field.clean(5, None) == D("5.00")
    with pytest.raises(ValidationError):
        field.clean("twelve", None)
    with pytest.raises(ValidationError):
        field.clean(D("1000000000000.00"), None)  # 15 digits: beyond the column
    with pytest.raises(ValidationError), transaction.atomic():
        prepay(D("1000000000000.00"))


def test_lookups_take_yuan():
    prepay(D("1440.46"))
    prepay(D("2679.60"), payer="130000")
    assert Prepayment.objects.filter(amount=D("1440.46")).count() == 1
    assert Prepayment.objects.filter(amount__gt="1440.46").get().amount == D("2679.60")
    assert Prepayment.objects.filter(amount__lte=D("2679.6")).count() == 2
    assert Prepayment.objects.filter(amount__in=[D("2679.60"), D("1.00")]).count() == 1
    assert Prepayment.objects.filter(amount__range=(D("1440.47"), D("3000"))).count() == 1


def test_sums_and_arithmetic_are_exact_and_in_yuan():
    prepay(D("1440.46"))
    prepay(D("2679.60"), payer="130000")
    totals = Prepayment.objects.aggregate(
        s=Sum("amount"), lo=Min("amount"), hi=Max("amount"), avg=Avg("amount")
    )
    assert totals["s"] == D("4120.06") and str(totals["s"]) == "4120.06"
    assert (totals["lo"], totals["hi"]) == (D("1440.46"), D("2679.60"))
    assert totals["avg"] == D("2060.03")
    doubled = Prepayment.objects.annotate(d=F("amount") * 2, twice=F("amount") + F("amount")).get(
        payer_province="510000"
    )
    assert doubled.d == doubled.twice == D("2880.92")
    Prepayment.objects.update(amount=F("amount") + money_value("0.01"))
    assert sorted(Prepayment.objects.values_list("amount", flat=True)) == [D("1440.47"), D("2679.61")]
    assert Prepayment.objects.filter(amount__gt=F("amount") - money_value("0.01")).count() == 2


@pytest.mark.parametrize(
    "query",
    [
        lambda qs: list(qs.annotate(x=F("amount") + D("1.00"))),
        lambda qs: qs.update(amount=F("amount") + 1),
        lambda qs: list(qs.filter(amount__gt=F("amount") - D("0.01"))),
        lambda qs: list(qs.annotate(x=F("amount") * D("0.5"))),
    ],
    ids=["annotate", "update", "filter", "ratio"],
)
def test_money_with_a_bare_number_in_the_database_is_refused(query):
    """A bare 1.00 next to a money column would be read as one fen: refused on every backend."""
    prepay(D("100.00"))
    with pytest.raises(FieldError), transaction.atomic():
        query(Prepayment.objects.all())
    assert Prepayment.objects.get().amount == D("100.00")


def statement(**amounts):
    return ClearingStatement(
        month=MONTH, insured_province_id="510000", treatment_province_id="110000", **amounts
    )


def test_check_constraints_compare_exactly():
    """1,440.46 + 2,679.60 = 4,120.06 holds in the database (as floats it does not), and one fen off is refused."""
    good = statement(
        basic_fund=D("1440.46"), critical_fund=D("2679.60"), fund_total=D("4120.06"), total=D("4120.06")
    )
    good.full_clean()  # the constraint checked in Python, as an admin form does
    good.save()
    off = statement(basic_fund=D("1440.46"), critical_fund=D("2679.60"), fund_total=D("4120.07"))
    off.insured_province_id = "130000"
    with pytest.raises(ValidationError):
        off.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        off.save()


def test_admin_form_field_is_a_decimal_with_two_places():
    form_class = forms.modelform_factory(
        Prepayment, fields=["payer_province", "receiver_province", "month", "amount"]
    )
    field = form_class.base_fields["amount"]
    assert isinstance(field, forms.DecimalField) and field.decimal_places == 2 and field.max_digits == 14
    data = {"payer_province": "510000", "receiver_province": "110000", "month": "2026-03-01"}
    refused = form_class(data={**data, "amount": "1.005"})
    assert not refused.is_valid() and "amount" in refused.errors
    form = form_class(data={**data, "amount": "1440.46"})
    assert form.is_valid(), form.errors
    assert form.save().amount == D("1440.46")
    assert form_class(instance=Prepayment.objects.get()).initial["amount"] == D("1440.46")


def test_serialised_as_yuan():
    prepay(D("4120.06"))
    dumped = serializers.serialize("json", Prepayment.objects.all())
    assert '"amount": "4120.06"' in dumped
    Prepayment.objects.all().delete()
    for obj in serializers.deserialize("json", dumped):
        obj.save()
    assert Prepayment.objects.get().amount == D("4120.06")


def test_a_new_money_column_is_one_line():
    """For the next benefit (personal account balance, large-amount fund, ...): the field needs no arguments."""
    field = MoneyField("personal account balance", default=D("0.00"))
    name, path, args, kwargs = field.deconstruct()
    assert path == "core.money.MoneyField"
    assert kwargs == {"verbose_name": "personal account balance", "default": D("0.00")}
    assert field.db_type(connection) == connection.data_types["BigIntegerField"]
