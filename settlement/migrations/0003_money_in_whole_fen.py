"""Every money column stores whole fen (bigint) instead of a decimal of yuan, so the checks that a split adds up
compare integers and are exact on SQLite too (it stored the decimals as floats). Each value is converted
exactly (yuan × 100), and back when unapplied. The adding-up checks compare several columns: they are removed
while the columns change one by one and added again, with the same names, at the end."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models
from django.db.models import F, Q

import core.money

ZERO = {"default": Decimal("0.00")}

# (model, field, verbose name, other attributes), as the models declare them.
MONEY_FIELDS = [
    ("accumulator", "deductible_inpatient", "inpatient deductible paid", ZERO),
    ("accumulator", "deductible_general_outpatient", "general outpatient deductible paid", ZERO),
    ("accumulator", "deductible_chronic_outpatient", "chronic outpatient deductible paid", ZERO),
    ("accumulator", "basic_fund_paid", "basic fund paid", ZERO),
    ("accumulator", "critical_fund_paid", "critical illness paid", ZERO),
    ("accumulator", "assistance_paid", "medical assistance paid", ZERO),
    ("accumulator", "burden", "personal burden within the eligible scope", ZERO),
    ("assistancerule", "annual_cap", "annual cap", {}),
    ("clearingline", "total", "total", ZERO),
    ("clearingline", "basic_fund", "basic fund", ZERO),
    ("clearingline", "critical_fund", "critical illness insurance", ZERO),
    ("clearingline", "assistance_fund", "medical assistance", ZERO),
    ("clearingline", "person_pays", "paid by the person", ZERO),
    ("clearingstatement", "total", "total", ZERO),
    ("clearingstatement", "basic_fund", "basic fund", ZERO),
    ("clearingstatement", "critical_fund", "critical illness insurance", ZERO),
    ("clearingstatement", "assistance_fund", "medical assistance", ZERO),
    ("clearingstatement", "fund_total", "funds", ZERO),
    ("clearingstatement", "person_pays", "paid by people", ZERO),
    ("criticalillnesstier", "lower", "from (above the threshold)", {}),
    ("policy", "annual_cap", "basic fund annual cap", {}),
    (
        "policy",
        "critical_threshold",
        "critical illness threshold",
        {
            **ZERO,
            "help_text": "Yearly personal burden within the eligible scope above which critical illness pays.",
        },
    ),
    ("policy", "critical_cap", "critical illness annual cap", ZERO),
    ("policyrate", "deductible", "deductible", {}),
    ("prepayment", "amount", "amount", {}),
    ("settlement", "total", "total", ZERO),
    ("settlement", "self_paid", "self-paid items", ZERO),
    ("settlement", "first_share", "class B first share", ZERO),
    ("settlement", "eligible", "eligible amount", ZERO),
    ("settlement", "deductible", "deductible", ZERO),
    ("settlement", "basic_fund", "basic fund", ZERO),
    ("settlement", "critical_fund", "critical illness insurance", ZERO),
    ("settlement", "assistance_fund", "medical assistance", ZERO),
    ("settlement", "person_pays", "person pays", ZERO),
    ("settlementline", "amount", "amount", ZERO),
    ("settlementline", "self_paid", "self-paid", ZERO),
    ("settlementline", "first_share", "first share", ZERO),
    ("settlementline", "eligible", "eligible", ZERO),
]

ADDING_UP = [
    (
        "settlement",
        models.CheckConstraint(
            condition=Q(total=F("basic_fund") + F("critical_fund") + F("assistance_fund") + F("person_pays")),
            name="settlement_split_adds_up",
        ),
    ),
    (
        "settlement",
        models.CheckConstraint(
            condition=Q(total=F("self_paid") + F("first_share") + F("eligible")),
            name="settlement_items_add_up",
        ),
    ),
    (
        "clearingstatement",
        models.CheckConstraint(
            condition=Q(fund_total=F("basic_fund") + F("critical_fund") + F("assistance_fund")),
            name="clearing_funds_add_up",
        ),
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("settlement", "0002_group_cuts_up_to_20_points"),
    ]

    operations = [
        *[
            migrations.RemoveConstraint(model_name=model, name=constraint.name)
            for model, constraint in ADDING_UP
        ],
        *[
            core.money.DecimalToMoney(
                model_name=model,
                fields=[
                    (
                        name,
                        core.money.MoneyField(
                            validators=[django.core.validators.MinValueValidator(0)], verbose_name=label, **extra
                        ),
                    )
                    for field_model, name, label, extra in MONEY_FIELDS
                    if field_model == model
                ],
            )
            for model in dict.fromkeys(model for model, *_rest in MONEY_FIELDS)
        ],
        *[migrations.AddConstraint(model_name=model, constraint=constraint) for model, constraint in ADDING_UP],
    ]
