import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecode.token import (
    DEFAULT_TTL_UNITS,
    SIGNING_TAG,
    TOKEN_BYTES,
    TOKEN_DIGITS,
    VERSION,
    Claims,
    Token,
    decrypt_subject,
    encrypt_subject,
    from_digits,
    issue_token,
    pack_claims,
    to_digits,
    unpack_claims,
)

ROOT = Path(__file__).resolve().parents[2]
SUBJECT_KEY = bytes(range(16))
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
IAT = 1_767_225_600


def make_token(**overrides) -> bytes:
    fields = {
        "private_key": KEY,
        "kid": 7,
        "iat": IAT,
        "ttl_units": DEFAULT_TTL_UNITS,
        "subject": encrypt_subject(SUBJECT_KEY, 42),
        "claims": pack_claims(110000, 1, True),
    }
    return issue_token(**(fields | overrides))


@pytest.mark.parametrize(
    ("region", "scheme", "filing", "word"),
    [
        (110000, 1, True, 110000 << 12 | 1 << 8 | 1),
        ("659001", 2, False, 659001 << 12 | 2 << 8),
        ("110000", 2, True, 110000 << 12 | 2 << 8 | 1),
    ],
)
def test_claims_pack_and_unpack_round_trip(region, scheme, filing, word):
    assert pack_claims(region, scheme, filing) == word
    assert unpack_claims(word) == Claims(f"{int(region):06d}", scheme, filing)


@pytest.mark.parametrize(
    "region", [99999, 1000000, "11000", "1100000", "11000a", "１１００００", True, 1.5e5]
)
def test_pack_claims_refuses_a_region_that_is_not_six_digits(region):
    with pytest.raises(ValueError, match="region"):
        pack_claims(region, 1, False)


@pytest.mark.parametrize("scheme", [0, 3, 16, -1])
def test_pack_claims_refuses_an_unknown_scheme(scheme):
    with pytest.raises(ValueError, match="scheme"):
        pack_claims(110000, scheme, False)


def test_unpack_claims_ignores_reserved_flags():
    assert unpack_claims(659001 << 12 | 2 << 8 | 0xFE) == Claims("659001", 2, False)


def test_subject_decrypts_back_to_member_and_nonce():
    block = encrypt_subject(SUBJECT_KEY, 2**64 - 1, b"\x00" * 8)
    assert len(block) == 16
    assert decrypt_subject(SUBJECT_KEY, block) == (2**64 - 1, b"\x00" * 8)
    member_id, nonce = decrypt_subject(SUBJECT_KEY, encrypt_subject(SUBJECT_KEY, 123456789))
    assert member_id == 123456789
    assert len(nonce) == 8


def test_subject_under_another_key_does_not_reveal_the_member():
    block = encrypt_subject(SUBJECT_KEY, 123456789, b"12345678")
    assert decrypt_subject(bytes(16), block)[0] != 123456789


def test_subject_with_a_fixed_nonce_is_reproducible():
    assert encrypt_subject(SUBJECT_KEY, 5, b"abcdefgh") == encrypt_subject(SUBJECT_KEY, 5, b"abcdefgh")


def windows(block: bytes) -> set[tuple[int, bytes]]:
    return {(i, block[i : i + 4]) for i in range(len(block) - 3)}


def test_two_subjects_of_one_member_share_no_bytes_at_the_same_place():
    first = encrypt_subject(SUBJECT_KEY, 42, (1).to_bytes(8, "big"))
    second = encrypt_subject(SUBJECT_KEY, 42, (2).to_bytes(8, "big"))
    assert not windows(first) & windows(second)


def test_subjects_of_one_member_are_unlinkable_across_many_tokens():
    blocks = [encrypt_subject(SUBJECT_KEY, 42) for _ in range(1000)]
    assert len(set(blocks)) == len(blocks)
    for first, second in zip(blocks, blocks[1:], strict=False):
        assert not windows(first) & windows(second)


@pytest.mark.parametrize(
    ("key", "member_id", "nonce", "message"),
    [
        (bytes(15), 1, None, "subject key"),
        (bytes(32), 1, None, "subject key"),
        (SUBJECT_KEY, -1, None, "member_id"),
        (SUBJECT_KEY, 2**64, None, "member_id"),
        (SUBJECT_KEY, 1, b"short", "nonce"),
    ],
)
def test_encrypt_subject_refuses_bad_input(key, member_id, nonce, message):
    with pytest.raises(ValueError, match=message):
        encrypt_subject(key, member_id, nonce)


def test_issued_token_has_the_documented_layout():
    subject = encrypt_subject(SUBJECT_KEY, 42, b"\x01" * 8)
    raw = make_token(kid=0x0A0B0C0D, iat=0x01020304, ttl_units=24, subject=subject)
    assert len(raw) == TOKEN_BYTES
    assert raw[0] == VERSION
    assert raw[1:5] == bytes.fromhex("0a0b0c0d")
    assert raw[5:9] == bytes.fromhex("01020304")
    assert raw[9] == 24
    assert raw[10:26] == subject
    assert raw[26:30] == (110000 << 12 | 1 << 8 | 1).to_bytes(4, "big")
    KEY.public_key().verify(raw[30:], SIGNING_TAG + raw[:30])


def test_token_fields_round_trip():
    raw = make_token(ttl_units=12)
    token = Token.from_bytes(raw)
    assert token.to_bytes() == raw
    assert (token.version, token.kid, token.iat, token.ttl_units) == (1, 7, IAT, 12)
    assert token.kid_hex == "00000007"
    assert token.lifetime == 60
    assert token.expires_at == IAT + 60
    assert (token.region, token.scheme, token.filing_in_force) == ("110000", 1, True)
    assert decrypt_subject(SUBJECT_KEY, token.subject)[0] == 42
    assert token.signature == raw[30:]


def test_token_fields_are_frozen():
    token = Token.from_bytes(make_token())
    with pytest.raises(AttributeError):
        token.iat = 0


def test_default_lifetime_is_two_minutes():
    assert Token.from_bytes(make_token(ttl_units=DEFAULT_TTL_UNITS)).lifetime == 120


@pytest.mark.parametrize(
    "override",
    [
        {"kid": -1},
        {"kid": 2**32},
        {"iat": -1},
        {"iat": 2**32},
        {"iat": 1.5},
        {"ttl_units": 0},
        {"ttl_units": 256},
        {"claims": 2**32},
        {"subject": bytes(15)},
    ],
)
def test_issue_token_refuses_fields_that_do_not_fit(override):
    with pytest.raises(ValueError):
        make_token(**override)


def test_digits_round_trip_and_are_zero_padded():
    raw = make_token()
    digits = to_digits(raw)
    assert len(digits) == TOKEN_DIGITS
    assert digits.isdigit()
    assert digits.startswith("000")  # version 1 in the top byte leaves the value near 2**744
    assert from_digits(digits) == raw
    assert to_digits(bytes(TOKEN_BYTES)) == "0" * TOKEN_DIGITS
    assert from_digits(to_digits(b"\xff" * TOKEN_BYTES)) == b"\xff" * TOKEN_BYTES


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1" * 226,
        "1" * 228,
        "9" * 227,
        " " + "1" * 226,
        "1" * 226 + "x",
        "１" + "1" * 226,
        "+" + "1" * 226,
    ],
)
def test_from_digits_refuses_anything_but_227_digits_below_2_752(text):
    with pytest.raises(ValueError):
        from_digits(text)


def test_to_digits_refuses_a_wrong_length():
    with pytest.raises(ValueError):
        to_digits(bytes(93))


def test_pure_modules_import_no_django():
    code = "import sys, ecode.token, ecode.verifier, ecode.qr; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
