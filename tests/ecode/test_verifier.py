import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecode.token import (
    HEADER,
    SIGNING_TAG,
    TOKEN_BITS,
    TOKEN_DIGITS,
    decrypt_subject,
    encrypt_subject,
    issue_token,
    pack_claims,
    to_digits,
)
from ecode.verifier import (
    OFFLINE_ERROR_CODES,
    EcodeErrorCode,
    KeySet,
    VerificationError,
    VerifiedToken,
    message,
    public_jwk,
    result_json,
    verify,
)

from . import make_vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads(Path(__file__).with_name("vectors.json").read_text(encoding="utf-8"))

IAT = 1_767_225_600
ACTIVE = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
RETIRED = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
REVOKED = Ed25519PrivateKey.from_private_bytes(b"\x03" * 32)
KEYS = KeySet(
    [
        (0x10, ACTIVE.public_key(), "active"),
        (0x20, RETIRED.public_key(), "verify-only"),
        (0x30, REVOKED.public_key(), "revoked"),
    ]
)
SUBJECT_KEY = bytes(range(16))


def issue(*, key=ACTIVE, kid=0x10, iat=IAT, ttl_units=24, member_id=42) -> str:
    subject = encrypt_subject(SUBJECT_KEY, member_id)
    claims = pack_claims(110000, 1, True)
    raw = issue_token(private_key=key, kid=kid, iat=iat, ttl_units=ttl_units, subject=subject, claims=claims)
    return to_digits(raw)


def refusal(token: str, keys: KeySet = KEYS, now: float = IAT) -> EcodeErrorCode:
    with pytest.raises(VerificationError) as caught:
        verify(token, keys, now=now)
    return caught.value.code


def test_valid_token_round_trips_its_fields():
    token = verify(issue(ttl_units=12, member_id=99), KEYS, now=IAT + 1)
    assert isinstance(token, VerifiedToken)
    assert (token.version, token.kid, token.iat, token.ttl_units) == (1, 0x10, IAT, 12)
    assert (token.region, token.scheme, token.filing_in_force) == ("110000", 1, True)
    assert token.expires_at == IAT + 60
    assert decrypt_subject(SUBJECT_KEY, token.subject)[0] == 99


def test_verify_uses_the_clock_by_default():
    verify(issue(iat=int(time.time())), KEYS)
    assert refusal(issue(iat=int(time.time()) - 3600), now=time.time()) == EcodeErrorCode.EXPIRED


@pytest.mark.parametrize("wrapping", ["{}\r\n", "{}\n", " {} ", "\t{}\r", "\u3000{}"])
def test_surrounding_whitespace_from_a_scanner_is_ignored(wrapping):
    verify(wrapping.format(issue()), KEYS, now=IAT)


def test_a_byte_order_mark_is_not_whitespace():
    assert refusal("\ufeff" + issue()) == EcodeErrorCode.MALFORMED


def test_every_single_bit_flip_is_refused():
    value = int(issue())
    for bit in range(TOKEN_BITS):
        byte = (TOKEN_BITS - 1 - bit) // 8
        code = refusal(f"{value ^ (1 << bit):0{TOKEN_DIGITS}d}", now=IAT + 60)
        if byte == 0:
            assert code == EcodeErrorCode.UNSUPPORTED_VERSION, bit
        elif byte < 5:  # kid: an unlisted or revoked key, or a listed key the signature does not match
            assert code in {EcodeErrorCode.UNKNOWN_KEY, EcodeErrorCode.BAD_SIGNATURE}, bit
        else:
            assert code == EcodeErrorCode.BAD_SIGNATURE, bit


@pytest.mark.parametrize(
    ("now", "valid"),
    [
        (IAT - 30, True),
        (IAT - 31, False),
        (IAT - 30.001, False),
        (IAT + 24 * 5 + 30, True),
        (IAT + 24 * 5 + 31, False),
        (IAT + 24 * 5 + 30.001, False),
    ],
)
def test_clock_skew_edges(now, valid):
    if valid:
        verify(issue(), KEYS, now=now)
    else:
        expected = EcodeErrorCode.NOT_YET_VALID if now < IAT else EcodeErrorCode.EXPIRED
        assert refusal(issue(), now=now) == expected


def test_verify_only_key_still_verifies():
    assert verify(issue(key=RETIRED, kid=0x20), KEYS, now=IAT).kid == 0x20


def test_revoked_key_verifies_nothing():
    assert refusal(issue(key=REVOKED, kid=0x30)) == EcodeErrorCode.UNKNOWN_KEY
    assert KEYS.status(0x30) == "revoked"
    assert 0x30 not in KEYS
    assert KEYS.public_key(0x30) is None


def test_token_signed_by_another_listed_key_is_a_bad_signature():
    assert refusal(issue(key=RETIRED, kid=0x10)) == EcodeErrorCode.BAD_SIGNATURE


def test_signature_is_checked_before_the_clock():
    forged = issue(key=Ed25519PrivateKey.generate(), kid=0x10, iat=IAT - 86400)
    assert refusal(forged) == EcodeErrorCode.BAD_SIGNATURE


def signed(header: bytes) -> str:
    return to_digits(header + ACTIVE.sign(SIGNING_TAG + header))


def test_every_offline_code_is_reachable():
    subject, claims = bytes(16), pack_claims(110000, 1, False)
    reached = {
        refusal("12345"),
        refusal(signed(HEADER.pack(2, 0x10, IAT, 24, subject, claims))),
        refusal(issue(kid=0x99)),
        refusal(issue(key=RETIRED)),
        refusal(issue(iat=IAT + 60)),
        refusal(issue(iat=IAT - 600)),
    }
    assert reached == OFFLINE_ERROR_CODES


def test_ttl_zero_is_malformed_even_when_signed():
    header = HEADER.pack(1, 0x10, IAT, 0, bytes(16), pack_claims(110000, 1, False))
    assert refusal(signed(header)) == EcodeErrorCode.MALFORMED


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 226,
        "0" * 228,
        "9" * 227,
        str(2**752).zfill(227),
        "0" * 226 + "a",
        "0" * 226 + "\u0661",  # Arabic-Indic one: a digit to str.isdigit, not to a scanner
        "0" * 100 + "_" + "0" * 126,
        "-" + "0" * 226,
    ],
)
def test_anything_but_227_ascii_digits_below_2_752_is_malformed(text):
    assert refusal(text) == EcodeErrorCode.MALFORMED


def test_largest_227_digit_value_below_2_752_is_not_malformed():
    assert refusal(str(2**752 - 1).zfill(227)) != EcodeErrorCode.MALFORMED


def test_verification_error_carries_a_code_and_nothing_from_the_token():
    token = issue()
    with pytest.raises(VerificationError) as caught:
        verify(token[:-1], KEYS, now=IAT)
    assert caught.value.code is EcodeErrorCode.MALFORMED
    assert token[:20] not in str(caught.value)
    assert str(caught.value).startswith("malformed: ")


@pytest.mark.parametrize("code", list(EcodeErrorCode))
def test_every_code_has_a_chinese_and_an_english_message(code):
    chinese, english = message(code, "zh"), message(code, "en")
    assert chinese != english
    assert any("\u4e00" <= char <= "\u9fff" for char in chinese)
    assert english.isascii() and english[0].isupper()
    assert message(code.value) == chinese  # Chinese by default, plain strings accepted
    assert message(code, "en-US") == english
    assert message(code, "zh-hans") == chinese


def test_messages_cover_the_online_codes_too():
    online = {
        "unknown_subject",
        "credential_suspended",
        "credential_revoked",
        "already_used",
        "wrong_institution",
        "not_covered",
    }
    assert {code.value for code in EcodeErrorCode} == {code.value for code in OFFLINE_ERROR_CODES} | online


def test_message_refuses_an_unknown_code():
    with pytest.raises(ValueError):
        message("no_such_code")


# Key sets


def test_public_jwk_is_rfc_8037():
    jwk = public_jwk(0xABCDEF01, ACTIVE.public_key(), "verify-only")
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert jwk["kid"] == "abcdef01"
    assert jwk["status"] == "verify-only"
    assert len(jwk["x"]) == 43 and "=" not in jwk["x"]


def test_key_set_round_trips_through_json():
    jwks = {
        "keys": [
            public_jwk(0x10, ACTIVE.public_key(), "active"),
            public_jwk(0x20, RETIRED.public_key(), "verify-only"),
            public_jwk(0x30, REVOKED.public_key(), "revoked"),
        ]
    }
    keys = KeySet.from_json(json.dumps(jwks))
    assert len(keys) == 3
    assert [keys.status(kid) for kid in (0x10, 0x20, 0x30, 0x40)] == [
        "active",
        "verify-only",
        "revoked",
        None,
    ]
    verify(issue(), keys, now=IAT)
    verify(issue(key=RETIRED, kid=0x20), KeySet.from_json(json.dumps(jwks).encode()), now=IAT)


def test_key_set_ignores_keys_of_other_types():
    rsa = {"kty": "RSA", "kid": "whatever", "n": "AQAB", "e": "AQAB"}
    x448 = {"kty": "OKP", "crv": "Ed448", "kid": "00000099", "x": "AAAA", "status": "active"}
    keys = KeySet.from_jwks({"keys": [rsa, x448, public_jwk(0x10, ACTIVE.public_key())]})
    assert len(keys) == 1


def bad_jwk(**changes) -> dict:
    return {"keys": [public_jwk(0x10, ACTIVE.public_key(), "active") | changes]}


@pytest.mark.parametrize(
    "jwks",
    [
        {},
        {"keys": "nope"},
        [],
        {"keys": ["nope"]},
        bad_jwk(kid="0000001"),
        bad_jwk(kid="ABCDEF01"),
        bad_jwk(kid=16),
        bad_jwk(status="retired"),
        bad_jwk(status=None),
        bad_jwk(x="AAAA"),
        bad_jwk(x=public_jwk(0x10, ACTIVE.public_key())["x"] + "="),
        bad_jwk(x=public_jwk(0x10, ACTIVE.public_key())["x"][:-1] + "+"),
        {"keys": [public_jwk(0x10, ACTIVE.public_key()), public_jwk(0x10, RETIRED.public_key())]},
    ],
)
def test_malformed_key_set_is_refused(jwks):
    with pytest.raises(ValueError):
        KeySet.from_jwks(jwks)


def test_non_canonical_base64url_key_is_refused():
    x = public_jwk(0x10, ACTIVE.public_key())["x"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The last of 43 characters carries 4 bits of key and 2 unused bits: setting one spells the same bytes.
    sloppy = x[:-1] + alphabet[alphabet.index(x[-1]) ^ 1]
    with pytest.raises(ValueError, match="canonical"):
        KeySet.from_jwks(bad_jwk(x=sloppy))


def test_key_set_refuses_an_unknown_status_when_built_directly():
    with pytest.raises(ValueError):
        KeySet([(1, ACTIVE.public_key(), "retired")])


def test_public_jwk_refuses_bad_kid_and_status():
    with pytest.raises(ValueError):
        public_jwk(2**32, ACTIVE.public_key())
    with pytest.raises(ValueError):
        public_jwk(1, ACTIVE.public_key(), "retired")


# Vectors


VECTOR_KEYS = KeySet.from_jwks(VECTORS["jwks"])
VECTOR_SUBJECT_KEY = bytes.fromhex(VECTORS["subject_key"])


def test_vectors_are_current():
    assert make_vectors.dumps(make_vectors.build()) == Path(make_vectors.VECTORS_PATH).read_text(
        encoding="utf-8"
    )


def test_vectors_cover_every_offline_code_and_both_listed_key_statuses():
    codes = {case["expected"].get("code") for case in VECTORS["cases"]}
    assert codes - {None} == {code.value for code in OFFLINE_ERROR_CODES}
    valid_kids = {case["expected"]["kid"] for case in VECTORS["cases"] if case["expected"]["valid"]}
    statuses = {key["kid"]: key["status"] for key in VECTORS["jwks"]["keys"]}
    assert {statuses[kid] for kid in valid_kids} == {"active", "verify-only"}
    assert "revoked" in statuses.values()


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["name"] for case in VECTORS["cases"]])
def test_vector(case):
    expected = case["expected"]
    if not expected["valid"]:
        assert refusal(case["token"], VECTOR_KEYS, case["now"]) == expected["code"]
        return
    token = verify(case["token"], VECTOR_KEYS, now=case["now"])
    summary = result_json(token)
    assert summary == {key: expected[key] for key in summary}
    assert token.ttl_units == expected["ttl_units"]
    member_id, nonce = decrypt_subject(VECTOR_SUBJECT_KEY, token.subject)
    assert (member_id, nonce.hex()) == (expected["member_id"], expected["nonce"])


# Command line


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecode.verifier", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(VECTORS["jwks"]), encoding="utf-8")
    return str(path)


def vector(name: str) -> dict:
    return next(case for case in VECTORS["cases"] if case["name"] == name)


def test_cli_prints_a_valid_result_and_exits_0(keys_file):
    case = vector("valid_active_key")
    result = run_cli("--keys", keys_file, case["token"], "--now", str(case["now"]))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == {key: case["expected"][key] for key in printed}
    assert set(printed) == {"valid", "kid", "iat", "expires_at", "region", "scheme", "filing_in_force"}


def test_cli_reads_the_token_from_stdin(keys_file):
    case = vector("valid_verify_only_key")
    result = run_cli("--keys", keys_file, "--now", str(case["now"]), "-", stdin=case["token"] + "\r\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kid"] == "00000002"


def test_cli_prints_the_code_and_a_message_and_exits_1(keys_file):
    case = vector("expired_beyond_skew")
    result = run_cli("--keys", keys_file, "--now", str(case["now"]), "--lang", "en", case["token"])
    assert result.returncode == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "code": "expired",
        "message": message(EcodeErrorCode.EXPIRED, "en"),
    }
    chinese = run_cli("--keys", keys_file, "--now", str(case["now"]), case["token"])
    assert json.loads(chinese.stdout)["message"] == message(EcodeErrorCode.EXPIRED, "zh")


def test_cli_usage_errors_exit_2(keys_file, tmp_path):
    token = vector("valid_active_key")["token"]
    assert run_cli(token).returncode == 2  # no --keys
    assert run_cli("--keys", str(tmp_path / "missing.json"), token).returncode == 2
    not_json = tmp_path / "bad.json"
    not_json.write_text("{", encoding="utf-8")
    assert run_cli("--keys", str(not_json), token).returncode == 2
    assert run_cli("--keys", keys_file, "--now", "soon", token).returncode == 2
