import base64
import io
import logging
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from core.audit import audit_history
from ecode.keys import KeyMaterialError, keyring, private_key_open, private_key_seal
from ecode.models import SigningKey, SigningKeyStatus
from ecode.services import (
    credential_activate,
    signing_key_ensure,
    signing_key_revoke,
    signing_key_rotate,
    token_issue,
)
from ecode.token import Token, from_digits
from ecode.verifier import KeySet, verify
from tests.factories import person_factory

from .factories import credential_factory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

JWKS_URL = "/.well-known/ecode-keys.json"


def _kid(token: str) -> int:
    return Token.from_bytes(from_digits(token)).kid


def test_private_keys_are_stored_only_sealed_under_the_kek(settings):
    key = signing_key_ensure()
    private = private_key_open(kid=key.kid, sealed=key.private_key_sealed)
    raw = private.private_bytes_raw()
    assert private.public_key().public_bytes_raw() == bytes(key.public_key)
    stored = key.private_key_sealed.encode()
    assert raw not in stored and base64.urlsafe_b64encode(raw).rstrip(b"=") not in stored
    # Another KEK does not open it, nor does the same seal moved onto another kid.
    with pytest.raises(KeyMaterialError):
        private_key_open(kid=key.kid ^ 1, sealed=key.private_key_sealed)
    settings.ECODE_KEK = base64.urlsafe_b64encode(b"\x07" * 32).decode()
    with pytest.raises(KeyMaterialError):
        private_key_open(kid=key.kid, sealed=key.private_key_sealed)


def test_seal_round_trip_for_a_given_key():
    private = Ed25519PrivateKey.generate()
    sealed = private_key_seal(kid=7, private_key=private)
    assert private_key_open(kid=7, sealed=sealed).private_bytes_raw() == private.private_bytes_raw()


def test_first_token_without_any_key_generates_a_development_key_and_says_so(caplog):
    credential = credential_activate(person=person_factory(), actor=None)
    assert not SigningKey.objects.exists()
    with caplog.at_level(logging.WARNING, logger="ecode.services"):
        token = token_issue(credential=credential).token
    assert "development signing key generated" in caplog.text
    key = SigningKey.objects.get()
    assert key.status == SigningKeyStatus.ACTIVE and _kid(token) == key.kid
    assert [e.action for e in audit_history(key)] == ["ecode.key.create"]


def test_keys_command_rotates_lists_and_revokes_with_an_audit_trail():
    out = io.StringIO()
    call_command("ecode_keys", "rotate", stdout=out)
    first = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    assert f"active key {first.kid_hex}" in out.getvalue()
    out = io.StringIO()
    call_command("ecode_keys", "rotate", "--reason", "yearly", stdout=out)
    first.refresh_from_db()
    second = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    assert first.status == SigningKeyStatus.VERIFY_ONLY and first.verify_until > timezone.now()
    assert f"verify-only {first.kid_hex}" in out.getvalue()
    out = io.StringIO()
    call_command("ecode_keys", "list", stdout=out)
    listing = out.getvalue()
    assert f"{second.kid_hex}  active" in listing and f"{first.kid_hex}  verify-only" in listing
    assert "sealed" not in listing and first.private_key_sealed not in listing
    call_command("ecode_keys", "revoke", first.kid_hex, "--reason", "leaked", stdout=io.StringIO())
    first.refresh_from_db()
    assert first.status == SigningKeyStatus.REVOKED
    actions = [(e.action, e.reason) for e in audit_history(first)]
    assert actions == [
        ("ecode.key.create", "rotation"),
        ("ecode.key.retire", "yearly"),
        ("ecode.key.revoke", "leaked"),
    ]
    with pytest.raises(CommandError):
        call_command("ecode_keys", "revoke", "nothex!!", stdout=io.StringIO())
    with pytest.raises(CommandError, match="unknown_signing_key"):
        call_command("ecode_keys", "revoke", "00000000", stdout=io.StringIO())


def test_expired_verify_only_keys_are_listed_as_expired():
    old = signing_key_rotate()
    signing_key_rotate()
    SigningKey.objects.filter(pk=old.pk).update(verify_until=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("ecode_keys", "list", stdout=out)
    assert f"{old.kid_hex}  expired" in out.getvalue()


def test_the_hot_path_reads_keys_from_memory_not_the_database(django_assert_num_queries):
    signing_key_ensure()
    keyring()
    with django_assert_num_queries(0):
        for _ in range(3):
            keyring().keyset_at(timezone.now())
            keyring().signing_key


# --- The published key set ---


def test_jwks_lists_active_and_verify_only_keys_per_rfc_8037(client):
    old = signing_key_rotate()
    new = signing_key_rotate()
    response = client.get(JWKS_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    assert "max-age=300" in response["Cache-Control"] and "public" in response["Cache-Control"]
    assert response["ETag"]
    keys = {k["kid"]: k for k in response.json()["keys"]}
    assert set(keys) == {old.kid_hex, new.kid_hex}
    for jwk, key in ((keys[old.kid_hex], old), (keys[new.kid_hex], new)):
        assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
        assert len(jwk["kid"]) == 8 and "d" not in jwk
        assert base64.urlsafe_b64decode(jwk["x"] + "=") == bytes(key.public_key)
    assert keys[old.kid_hex]["status"] == "verify-only" and keys[new.kid_hex]["status"] == "active"


def test_jwks_leaves_out_revoked_and_expired_keys_and_answers_304_to_its_etag(client):
    expired = signing_key_rotate()
    revoked = signing_key_rotate()
    active = signing_key_rotate()
    signing_key_revoke(kid=revoked.kid)
    SigningKey.objects.filter(pk=expired.pk).update(verify_until=timezone.now() - timedelta(seconds=1))
    from ecode import keys

    keys._forget()
    response = client.get(JWKS_URL)
    assert [k["kid"] for k in response.json()["keys"]] == [active.kid_hex]
    again = client.get(JWKS_URL, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["ETag"] == response["ETag"]
    assert client.post(JWKS_URL).status_code == 405


def test_a_counter_verifies_offline_with_the_published_key_set(client):
    credential = credential_factory()
    token = token_issue(credential=credential).token
    keys = KeySet.from_json(client.get(JWKS_URL).content)
    verified = verify(token, keys)
    assert verified.region == credential.person.insured_region_id
    signing_key_revoke(kid=verified.kid)
    refreshed = KeySet.from_json(client.get(JWKS_URL).content)
    assert verified.kid not in refreshed
