import base64
import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from accounts.models import InsuredPerson
from accounts.services import person_get_by_id_number, person_get_by_phone
from core import pii
from tests.factories import make_id_number, person_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _raw_columns(person_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, id_number, phone, id_number_hash, phone_hash FROM accounts_insuredperson WHERE id = %s",
            [person_id],
        )
        return cursor.fetchone()


def test_raw_columns_never_hold_clear_personal_data():
    id_number = make_id_number("510104", "19800521")
    person = person_factory(name="李秀英", id_number=id_number, phone="13812345678")
    raw = _raw_columns(person.pk)
    joined = " ".join(raw)
    assert id_number not in joined
    assert id_number[-8:] not in joined
    assert "13812345678" not in joined
    assert "李秀英" not in joined
    assert raw[1].startswith("v1:")
    fresh = InsuredPerson.objects.get(pk=person.pk)
    assert (fresh.name, fresh.id_number, fresh.phone) == ("李秀英", id_number, "13812345678")


def test_people_are_found_by_id_number_and_phone_through_the_keyed_hash():
    id_number = make_id_number("510104", "19800521")
    person = person_factory(id_number=id_number, phone="13812345678")
    assert person_get_by_id_number(id_number.lower()) == person
    assert person_get_by_phone("+86 138 1234 5678") == person
    assert person_get_by_phone("13812345679") is None


def test_ciphertext_moved_to_another_column_does_not_decrypt():
    person = person_factory()
    raw = _raw_columns(person.pk)
    with pytest.raises(pii.DecryptionError):
        pii.decrypt(raw[2], context="accounts.insuredperson.id_number")


def test_tampered_ciphertext_is_detected():
    stored = pii.encrypt("11010519491231002X", context="x")
    tampered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(pii.DecryptionError):
        pii.decrypt(tampered, context="x")


def test_key_rotation_keeps_old_rows_readable_and_reencrypts_them():
    person = person_factory(name="王建国", phone="13812345678")
    old_b64 = base64.urlsafe_b64encode(pii._keyring()[1][1]).decode()
    new_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with override_settings(
        PII_ENCRYPTION_KEY=new_key, PII_ENCRYPTION_KEY_VERSION=2, PII_ENCRYPTION_OLD_KEYS=f"1:{old_b64}"
    ):
        assert InsuredPerson.objects.get(pk=person.pk).name == "王建国"
        call_command("reencrypt_personal_data", stdout=StringIO())
        raw = _raw_columns(person.pk)
        assert raw[0].startswith("v2:") and raw[1].startswith("v2:")
        assert person_get_by_phone("13812345678") == person
    # Once only the new key is configured, the rotated rows still read.
    with override_settings(
        PII_ENCRYPTION_KEY=new_key, PII_ENCRYPTION_KEY_VERSION=2, PII_ENCRYPTION_OLD_KEYS=""
    ):
        assert InsuredPerson.objects.get(pk=person.pk).name == "王建国"
