"""State changes that are a unit of work of their own refuse to run inside another transaction (durable)."""

import datetime as dt

import pytest
from django.db import transaction

from settlement.services import clearing_build

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_building_the_clearing_cannot_be_nested_in_another_transaction():
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        clearing_build(month=dt.date(2026, 1, 1))
    assert clearing_build(month=dt.date(2026, 1, 1)) == []
