"""Rebuild ``vectors.json``, the e-code test vectors, from fixed keys, nonces and clock.

Run from the repository root: ``.venv/bin/python -m tests.ecode.make_vectors``. Ed25519 signatures are
deterministic, so the file only changes when this script or the token format does;
``test_vectors_are_current`` fails if they drift apart.

The vectors are for any verifier, not only ours: the key set is a published-style JWKS and each case gives the
exact text a scanner would type, the clock to verify at and the expected outcome.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecode.token import (
    HEADER,
    SIGNING_TAG,
    TOKEN_DIGITS,
    encrypt_subject,
    issue_token,
    pack_claims,
    to_digits,
)
from ecode.verifier import public_jwk

VECTORS_PATH = Path(__file__).with_name("vectors.json")

IAT = 1_767_225_600  # 2026-01-01T00:00:00Z
KID_ACTIVE = 0x00000001
KID_VERIFY_ONLY = 0x00000002
KID_REVOKED = 0x00000003
KID_UNLISTED = 0x0000ABCD
SUBJECT_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
MEMBER_ID = 4_200_000_001


def private_key(label: str) -> Ed25519PrivateKey:
    """A test signing key derived from a fixed label, never used outside the test vectors."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"yibao e-code test key {label}".encode()).digest()
    )


def nonce(n: int) -> bytes:
    return n.to_bytes(8, "big")


def signed(key: Ed25519PrivateKey, header: bytes) -> bytes:
    """A token built by hand, for fields ``issue_token`` refuses to produce."""
    return header + key.sign(SIGNING_TAG + header)


def build() -> dict:
    """Return the vectors as a JSON-ready dict."""
    active, verify_only, revoked, unlisted = (private_key(label) for label in ("1", "2", "3", "unlisted"))
    jwks = {
        "keys": [
            public_jwk(KID_ACTIVE, active.public_key(), "active"),
            public_jwk(KID_VERIFY_ONLY, verify_only.public_key(), "verify-only"),
            public_jwk(KID_REVOKED, revoked.public_key(), "revoked"),
        ]
    }
    beijing = pack_claims(110000, 1, True)
    shihezi = pack_claims("659001", 2, False)
    subject = encrypt_subject(SUBJECT_KEY, MEMBER_ID, nonce(1))

    def token(key=active, kid=KID_ACTIVE, iat=IAT, ttl=24, subj=subject, claims=beijing) -> str:
        return to_digits(
            issue_token(private_key=key, kid=kid, iat=iat, ttl_units=ttl, subject=subj, claims=claims)
        )

    good = token()
    cases = []

    def case(name: str, text: str, now: float, expected: dict) -> None:
        cases.append({"name": name, "token": text, "now": now, "expected": expected})

    def fields(*, kid=KID_ACTIVE, ttl=24, region="110000", scheme=1, filing=True, member_id=MEMBER_ID, n=1):
        return {
            "valid": True,
            "kid": f"{kid:08x}",
            "iat": IAT,
            "expires_at": IAT + ttl * 5,
            "region": region,
            "scheme": scheme,
            "filing_in_force": filing,
            "ttl_units": ttl,
            "member_id": member_id,
            "nonce": nonce(n).hex(),
        }

    def refused(code: str) -> dict:
        return {"valid": False, "code": code}

    shihezi_token = token(
        key=verify_only,
        kid=KID_VERIFY_ONLY,
        ttl=12,
        claims=shihezi,
        subj=encrypt_subject(SUBJECT_KEY, 7, nonce(2)),
    )
    case("valid_active_key", good, IAT + 60, fields())
    case(
        "valid_verify_only_key",
        shihezi_token,
        IAT + 10,
        fields(kid=KID_VERIFY_ONLY, ttl=12, region="659001", scheme=2, filing=False, member_id=7, n=2),
    )
    case("valid_scanner_enter", good + "\r\n", IAT, fields())
    case("valid_at_earliest_skew", good, IAT - 30, fields())
    case("valid_at_latest_skew", good, IAT + 120 + 30, fields())
    case("valid_fractional_clock", good, IAT + 150.0, fields())

    case("not_yet_valid_beyond_skew", good, IAT - 31, refused("not_yet_valid"))
    case("expired_beyond_skew", good, IAT + 120 + 31, refused("expired"))
    case("expired_fraction_beyond_skew", good, IAT + 150.5, refused("expired"))
    case("malformed_226_digits", good[1:], IAT, refused("malformed"))
    case("malformed_228_digits", "0" + good, IAT, refused("malformed"))
    case("malformed_letter", good[:-1] + "A", IAT, refused("malformed"))
    case("malformed_inner_space", good[:100] + " " + good[101:], IAT, refused("malformed"))
    case("malformed_sign", "+" + good[1:], IAT, refused("malformed"))
    case("malformed_fullwidth_digit", good[:-1] + "\uff11", IAT, refused("malformed"))
    case("malformed_empty", "", IAT, refused("malformed"))
    case("malformed_not_below_2_752", "9" * TOKEN_DIGITS, IAT, refused("malformed"))
    ttl_zero = signed(active, HEADER.pack(1, KID_ACTIVE, IAT, 0, subject, beijing))
    case("malformed_ttl_zero", to_digits(ttl_zero), IAT, refused("malformed"))
    version_2 = signed(active, HEADER.pack(2, KID_ACTIVE, IAT, 24, subject, beijing))
    case("unsupported_version_2", to_digits(version_2), IAT, refused("unsupported_version"))
    case("unknown_key_unlisted", token(key=unlisted, kid=KID_UNLISTED), IAT, refused("unknown_key"))
    case("unknown_key_revoked", token(key=revoked, kid=KID_REVOKED), IAT, refused("unknown_key"))
    last_bit_flipped = f"{int(good) ^ 1:0{TOKEN_DIGITS}d}"
    case("bad_signature_bit_flip", last_bit_flipped, IAT, refused("bad_signature"))
    case("bad_signature_other_key", token(key=verify_only, kid=KID_ACTIVE), IAT, refused("bad_signature"))
    # The signature is checked before the clock: a forged, long-expired token is a forgery first.
    forged_old = token(key=unlisted, kid=KID_ACTIVE, iat=IAT - 3600)
    case("bad_signature_before_expiry", forged_old, IAT, refused("bad_signature"))

    return {
        "description": "e-code token v1 test vectors; rebuild with python -m tests.ecode.make_vectors",
        "jwks": jwks,
        "subject_key": SUBJECT_KEY.hex(),
        "cases": cases,
    }


def dumps(vectors: dict) -> str:
    return json.dumps(vectors, indent=2) + "\n"


def main() -> None:
    VECTORS_PATH.write_text(dumps(build()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")


if __name__ == "__main__":
    main()
