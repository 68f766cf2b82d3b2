"""Reference imports no app: an institution import tells the apps that keep copies (accounts' key cache)."""

import pytest

from accounts.services import api_key_lookup
from reference.services import institutions_export, institutions_import
from tests.factories import InstitutionFactory, counter_with_key

pytestmark = [pytest.mark.django_db]


def test_an_institution_switched_off_by_import_stops_its_terminals_at_once():
    institution = InstitutionFactory(region_code="110000", area="110105")
    _operator, clear = counter_with_key(institution=institution)
    assert api_key_lookup(clear).operator.institution.active  # now remembered for a few seconds
    exported = institutions_export(queryset=[institution])
    header, row = exported.strip().splitlines()[-2:]
    columns = header.split(",")
    values = row.split(",")
    values[columns.index("active")] = "0"
    institutions_import(data=header + "\n" + ",".join(values) + "\n")
    assert not api_key_lookup(clear).operator.institution.active
