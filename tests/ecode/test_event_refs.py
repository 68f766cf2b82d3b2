"""The code event table keeps its references without foreign-key constraints in the database (ecode/models.py
says why): what every check and use records points at rows that exist, and nothing they point at can be
deleted through the application."""

import pytest
from django.db import connection
from django.db.models import ProtectedError

from ecode.models import CodeEvent
from ecode.services import ecode_consume, ecode_verify, token_issue
from tests.ecode.factories import counter, credential_factory, filed_at

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def recorded():
    """A person with a filing here, checked twice (once by a known request number) and used once; and a check
    of a code of nobody on file."""
    operator, _key = counter()
    credential = credential_factory()
    filed_at(credential.person, operator)
    token = token_issue(credential=credential).token
    assert ecode_verify(token=token, operator=operator).valid
    assert ecode_verify(token=token, operator=operator, request_no="R-1").valid
    assert ecode_consume(token=token, operator=operator).valid
    return operator, credential


def _dangling() -> int:
    """Events whose credential, person, institution or operator is not there."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM ecode_codeevent e"
            " LEFT JOIN ecode_credential c ON c.id = e.credential_id"
            " LEFT JOIN accounts_insuredperson p ON p.id = e.person_id"
            " LEFT JOIN reference_institution i ON i.id = e.institution_id"
            " LEFT JOIN accounts_user u ON u.id = e.operator_id"
            " WHERE (e.credential_id IS NOT NULL AND c.id IS NULL)"
            " OR (e.person_id IS NOT NULL AND p.id IS NULL)"
            " OR i.id IS NULL OR u.id IS NULL"
        )
        return cursor.fetchone()[0]


def test_every_check_and_use_points_at_rows_that_exist(recorded):
    operator, credential = recorded
    events = CodeEvent.objects.filter(person=credential.person)
    assert sorted(events.values_list("kind", flat=True)) == ["consume", "verify", "verify"]
    assert set(events.values_list("credential_id", "institution_id", "operator_id")) == {
        (credential.pk, operator.institution_id, operator.pk)
    }
    assert _dangling() == 0


@pytest.mark.parametrize("referenced", ["credential", "person", "institution", "operator"])
def test_nothing_an_event_points_at_can_be_deleted(recorded, referenced):
    operator, credential = recorded
    target = {
        "credential": credential,
        "person": credential.person,
        "institution": operator.institution,
        "operator": operator,
    }[referenced]
    with pytest.raises(ProtectedError) as refused:
        target.delete()
    assert any(isinstance(obj, CodeEvent) for obj in refused.value.protected_objects)
    assert CodeEvent.objects.filter(person=credential.person).count() == 3
    assert _dangling() == 0
