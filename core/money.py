"""Money columns: `Decimal` yuan with two places in Python, whole fen (a bigint) in the database, exact everywhere.

A money column is declared as ``MoneyField(_("label"))``, with ``default``, ``null`` and ``validators`` as for any
field. Python code, forms, admin, serializers and templates see ``Decimal("4120.06")``; the database stores
``412006``. So sums, comparisons and check constraints compare integers and are exact on SQLite as on PostgreSQL
(SQLite would store a decimal column as a float: 1440.46 + 2679.60 ≠ 4120.06 there).

- A value with a fraction of a fen (``Decimal("0.005")``) or a float is refused, never rounded.
- Lookups (``total__gte=Decimal("100.00")``), ``Sum``/``Min``/``Max``, ``F("a") + F("b")`` and ``F("a") * 2``
  give and take yuan. A bare number in database arithmetic with money is refused (FieldError) instead of being
  read as fen: write ``F("total") + money_value(Decimal("10.00"))``. Ratios of money are computed in Python.
- ``DecimalToMoney`` converts an existing ``DecimalField`` of yuan to a ``MoneyField`` in a migration, exactly
  and reversibly, on PostgreSQL and SQLite.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation

from django import forms
from django.core import exceptions, validators
from django.db import models
from django.db.migrations.operations.base import Operation
from django.db.models import lookups
from django.db.models.expressions import (  # type: ignore[attr-defined]  # register_*: not in django-stubs
    Combinable,
    CombinedExpression,
    register_combinable_fields,
)
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


def to_fen(amount: Decimal) -> int:
    """Whole fen of an amount of yuan with at most two decimals (ValueError otherwise: never rounds)."""
    fen = Decimal(amount).scaleb(2)
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise ValueError("an amount of money has at most two decimals")
    return int(fen)


def from_fen(fen: int | Decimal) -> Decimal:
    """The amount of yuan, with two decimals, of a whole number of fen."""
    return Decimal(fen).scaleb(-2)


class MoneyField(models.Field):
    """An amount of money: `Decimal` yuan with two decimals in Python, whole fen (bigint) in the database."""

    empty_strings_allowed = False
    description = _("Amount of money (yuan, stored in fen)")
    default_error_messages = {
        "invalid": _("“%(value)s” is not an amount of money."),
        "fraction_of_fen": _("An amount of money has at most two decimal places."),
    }

    def __init__(self, verbose_name=None, name=None, *, max_digits: int = 14, **kwargs):
        # Digits in yuan, as a DecimalField's: 14 allows up to 999,999,999,999.99.
        self.max_digits = max_digits
        super().__init__(verbose_name, name, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        if self.max_digits != 14:
            kwargs["max_digits"] = self.max_digits
        return name, "core.money.MoneyField", args, kwargs

    def get_internal_type(self):
        return "BigIntegerField"

    @cached_property
    def validators(self):
        return [*super().validators, validators.DecimalValidator(self.max_digits, 2)]

    def to_python(self, value):
        if (
            value is None
            or isinstance(value, Decimal)
            and value.is_finite()
            and value.as_tuple().exponent == -2
        ):
            return value
        if isinstance(value, float | bool):  # a float is already inexact; True is not an amount
            raise exceptions.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            )
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
            fen = to_fen(amount)
        except (InvalidOperation, TypeError, ValueError):
            if isinstance(value, str | int | Decimal) and _is_number(value):
                raise exceptions.ValidationError(
                    self.error_messages["fraction_of_fen"], code="fraction_of_fen", params={"value": value}
                ) from None
            raise exceptions.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None
        return from_fen(fen)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or hasattr(value, "resolve_expression"):
            return value
        return to_fen(self.to_python(value))

    def get_db_prep_save(self, value, connection):
        prepared = super().get_db_prep_save(value, connection)
        # The same bound on every backend (a numeric(14, 2) column refused more; SQLite took anything).
        if isinstance(prepared, int) and abs(prepared) >= 10**self.max_digits:
            raise exceptions.ValidationError(
                validators.DecimalValidator.messages["max_digits"],
                code="max_digits",
                params={"max": self.max_digits, "value": value},
            )
        return prepared

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        if isinstance(value, float):  # SQLite's AVG(); a stored money value is always an integer
            value = Decimal(repr(value))
        return from_fen(value)

    def get_placeholder(self, value, compiler, connection):
        if hasattr(value, "resolve_expression"):
            check_money_arithmetic(value)
        return "%s"

    def formfield(self, **kwargs):
        return super().formfield(
            **{"form_class": forms.DecimalField, "max_digits": self.max_digits, "decimal_places": 2, **kwargs}
        )


def _is_number(value) -> bool:
    try:
        return Decimal(value.strip() if isinstance(value, str) else value).is_finite()
    except (InvalidOperation, TypeError, ValueError):
        return False


def money_value(amount: Decimal | str | int) -> models.Value:
    """An amount of yuan for database arithmetic with money: ``F("total") - money_value("200.00")``."""
    return models.Value(Decimal(amount), output_field=MoneyField())


def check_money_arithmetic(expression) -> None:
    """Raise FieldError if the expression adds money to a bare number anywhere (fen and yuan would mix)."""
    stack = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, CombinedExpression):
            # Resolving the type raises FieldError for money ± a bare number; an unresolved F() is checked
            # again once resolved.
            with contextlib.suppress(AttributeError):
                node.output_field  # noqa: B018
        stack.extend(e for e in node.get_source_expressions() if e is not None)


# Money ± money is money, money × a whole number is money; anything else with money needs an output_field
# (and a Value of money is money_value()), so a bare 10 is never taken for 10 fen.
for _connector in (Combinable.ADD, Combinable.SUB):
    register_combinable_fields(MoneyField, _connector, MoneyField, MoneyField)
    register_combinable_fields(MoneyField, _connector, type(None), MoneyField)
    register_combinable_fields(type(None), _connector, MoneyField, MoneyField)
register_combinable_fields(MoneyField, Combinable.MUL, models.IntegerField, MoneyField)
register_combinable_fields(models.IntegerField, Combinable.MUL, MoneyField, MoneyField)


class _MoneyComparison:
    """A comparison of money whose right side is an expression: its arithmetic is checked first."""

    def get_prep_lookup(self):
        if hasattr(self.rhs, "resolve_expression"):
            check_money_arithmetic(self.rhs)
        return super().get_prep_lookup()


for _lookup in (
    lookups.Exact,
    lookups.GreaterThan,
    lookups.GreaterThanOrEqual,
    lookups.LessThan,
    lookups.LessThanOrEqual,
):
    MoneyField.register_lookup(type(f"Money{_lookup.__name__}", (_MoneyComparison, _lookup), {}))


# --- Migrations ----------------------------------------------------------------------------------------------


class DecimalToMoney(Operation):
    """Turn ``DecimalField`` columns of yuan (two decimals) of one model into ``MoneyField`` columns of whole fen.

    ``DecimalToMoney("policy", [("annual_cap", MoneyField(...)), ...])``: each value becomes its fen, exactly and
    reversibly, on PostgreSQL and SQLite, with one rewrite of the table. Check constraints that add up money
    columns must be removed before and added again after (they would compare yuan with fen meanwhile).
    """

    def __init__(self, model_name: str, fields: list[tuple[str, MoneyField]]):
        self.model_name = model_name
        self.fields = fields

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "fields": self.fields}

    def state_forwards(self, app_label, state):
        # Plain columns, no relation: set them all, then render the model once (ProjectState.alter_field
        # would render it and its related models again for each column).
        model_state = state.models[app_label, self.model_name.lower()]
        for name, field in self.fields:
            model_state.fields[name] = field
        state.reload_model(app_label, self.model_name.lower(), delay=True)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._convert(app_label, schema_editor, from_state, to_state, to_money=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._convert(app_label, schema_editor, from_state, to_state, to_money=False)

    def _convert(self, app_label, schema_editor, from_state, to_state, *, to_money: bool):
        from_model = from_state.apps.get_model(app_label, self.model_name)
        to_model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, to_model):
            return
        pairs = [
            (from_model._meta.get_field(name), to_model._meta.get_field(name)) for name, _field in self.fields
        ]
        table = schema_editor.quote_name(to_model._meta.db_table)
        columns = [schema_editor.quote_name(new.column) for _old, new in pairs]
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            # The decimals have two places: × 100 is whole and the cast exact; ÷ 100 back is exact too.
            if to_money:
                changes = [f"ALTER COLUMN {c} TYPE bigint USING ({c} * 100)::bigint" for c in columns]
            else:
                changes = [
                    f"ALTER COLUMN {c} TYPE {new.db_type(schema_editor.connection)} USING ({c}::numeric / 100)"
                    for c, (_old, new) in zip(columns, pairs, strict=True)
                ]
            schema_editor.execute(f"ALTER TABLE {table} {', '.join(changes)}")
        elif vendor == "sqlite":
            # SQLite kept each decimal as the float nearest to it: × 100 is within a millionth of the whole fen.
            # Values first, then the declared types, rebuilding the table once (alter_field would rebuild it per
            # column) with the SQLite schema editor's own rebuild.
            if to_money:
                values = [f"{c} = CAST(ROUND({c} * 100) AS INTEGER)" for c in columns]
            else:
                values = [f"{c} = {c} / 100.0" for c in columns]
            schema_editor.execute(f"UPDATE {table} SET {', '.join(values)}")  # noqa: S608 - quoted names
            schema_editor._remake_table(from_model, alter_fields=pairs)
        else:  # pragma: no cover - the project runs on PostgreSQL and SQLite
            raise NotImplementedError(f"DecimalToMoney does not know {vendor}")

    def references_field(self, model_name, name, app_label):
        return model_name.lower() == self.model_name.lower() and any(n == name for n, _f in self.fields)

    def references_model(self, name, app_label):
        return name.lower() == self.model_name.lower()

    def reduce(self, operation, app_label):
        # The values change with the type: a squash must never fold this into another operation.
        return False

    def describe(self):
        return f"Store {', '.join(n for n, _f in self.fields)} of {self.model_name} in whole fen"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name.lower()}_money_in_fen"
