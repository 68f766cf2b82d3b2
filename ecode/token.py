"""The e-code token, version 1: 94 signed bytes, shown as 227 decimal digits.

Layout, big-endian::

    offset  bytes  field
    0       1      version    1
    1       4      kid        names the Ed25519 signing key
    5       4      iat        issue time, Unix seconds (UTC)
    9       1      ttl        lifetime in units of 5 s; 0 is invalid
    10      16     subject    AES-128(subject key, member_id (8 bytes) || nonce (8 bytes))
    26      4      claims     region << 12 | scheme << 8 | flags
    30      64     signature  Ed25519 over SIGNING_TAG + bytes 0-29

The text form is the 94 bytes read as one unsigned integer, in decimal, left-padded with zeros to 227 digits.
This module only builds and takes apart tokens; ``ecode.verifier`` decides whether one is valid.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass
from typing import NamedTuple, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VERSION = 1
TOKEN_BYTES = 94
TOKEN_BITS = TOKEN_BYTES * 8
TOKEN_DIGITS = 227
SIGNING_TAG = b"ECODE-v1"

TTL_UNIT_SECONDS = 5
DEFAULT_TTL_UNITS = 24  # 120 s
CLOCK_SKEW = 30  # seconds a verifier's clock may differ from the issuer's

SUBJECT_KEY_BYTES = 16
NONCE_BYTES = 8

SCHEME_EMPLOYEE = 1
SCHEME_RESIDENT = 2
SCHEMES = frozenset({SCHEME_EMPLOYEE, SCHEME_RESIDENT})
FLAG_FILING_IN_FORCE = 0x01

#: The 30 signed bytes: version, kid, iat, ttl, subject, claims.
HEADER = struct.Struct(">BIIB16sI")
#: The whole token: the header followed by the 64-byte signature.
LAYOUT = struct.Struct(">BIIB16sI64s")

_UINT32_LIMIT = 1 << 32
_MEMBER_ID_LIMIT = 1 << 64


class Claims(NamedTuple):
    """What a token says about the insured person's cover."""

    region: str
    scheme: int
    filing_in_force: bool


def pack_claims(region: int | str, scheme: int, filing_in_force: bool) -> int:
    """Return the claims word for a 6-digit GB/T 2260 ``region``, a ``scheme`` and the filing flag.

    Raise ``ValueError`` if ``region`` is not a 6-digit code or ``scheme`` is not one of ``SCHEMES``.
    """
    if isinstance(region, str):
        if not (len(region) == 6 and region.isascii() and region.isdigit()):
            raise ValueError("region must be a 6-digit GB/T 2260 code")
        region = int(region)
    if isinstance(region, bool) or not isinstance(region, int) or not 100000 <= region <= 999999:
        raise ValueError("region must be a 6-digit GB/T 2260 code")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}")
    return region << 12 | scheme << 8 | (FLAG_FILING_IN_FORCE if filing_in_force else 0)


def unpack_claims(claims: int) -> Claims:
    """Return the region (6 digits), scheme and filing flag of a claims word, ignoring unknown flags."""
    return Claims(f"{claims >> 12:06d}", claims >> 8 & 0xF, bool(claims & FLAG_FILING_IN_FORCE))


def _subject_cipher(subject_key: bytes) -> Cipher:
    if len(subject_key) != SUBJECT_KEY_BYTES:
        raise ValueError("subject key must be 16 bytes")
    # One block under a random nonce is a plain pseudorandom permutation: ECB is the right primitive here,
    # and its weakness (equal blocks look equal) cannot occur with a single block.
    return Cipher(algorithms.AES(subject_key), modes.ECB())  # noqa: S305


def encrypt_subject(subject_key: bytes, member_id: int, nonce: bytes | None = None) -> bytes:
    """Return the 16-byte subject block that only the holder of ``subject_key`` can link to ``member_id``.

    ``nonce`` (8 bytes) defaults to fresh random bytes, which makes every token of one member look unrelated;
    pass it only to reproduce a known block, as in test vectors.
    """
    if isinstance(member_id, bool) or not isinstance(member_id, int) or not 0 <= member_id < _MEMBER_ID_LIMIT:
        raise ValueError("member_id must fit in 64 unsigned bits")
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_BYTES)
    elif len(nonce) != NONCE_BYTES:
        raise ValueError("nonce must be 8 bytes")
    encryptor = _subject_cipher(subject_key).encryptor()
    return encryptor.update(member_id.to_bytes(8, "big") + nonce) + encryptor.finalize()


def decrypt_subject(subject_key: bytes, block: bytes) -> tuple[int, bytes]:
    """Return the ``(member_id, nonce)`` sealed in a subject block by ``encrypt_subject``.

    A block made under another key decrypts to an unrelated member id; the caller must treat an id it does
    not know as ``unknown_subject``.
    """
    if len(block) != 16:
        raise ValueError("subject block must be 16 bytes")
    decryptor = _subject_cipher(subject_key).decryptor()
    plain = decryptor.update(block) + decryptor.finalize()
    return int.from_bytes(plain[:8], "big"), plain[8:]


def _check_uint(name: str, value: int, limit: int, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < limit:
        raise ValueError(f"{name} must be an integer in [{low}, {limit})")


def issue_token(
    *,
    private_key: Ed25519PrivateKey,
    kid: int,
    iat: int,
    ttl_units: int = DEFAULT_TTL_UNITS,
    subject: bytes,
    claims: int,
) -> bytes:
    """Return a signed 94-byte version-1 token.

    ``kid`` must name ``private_key`` in the published key set, ``iat`` is the issue time in whole Unix
    seconds, ``ttl_units`` the lifetime in 5-second units (1-255), ``subject`` a block from
    ``encrypt_subject`` and ``claims`` a word from ``pack_claims``. Raise ``ValueError`` if a field does not
    fit its place in the layout.
    """
    _check_uint("kid", kid, _UINT32_LIMIT)
    _check_uint("iat", iat, _UINT32_LIMIT)
    _check_uint("ttl_units", ttl_units, 256, low=1)
    _check_uint("claims", claims, _UINT32_LIMIT)
    if not isinstance(subject, bytes) or len(subject) != 16:
        raise ValueError("subject must be 16 bytes")
    header = HEADER.pack(VERSION, kid, iat, ttl_units, subject, claims)
    return header + private_key.sign(SIGNING_TAG + header)


def to_digits(token: bytes) -> str:
    """Return the 227-digit text form of a 94-byte token."""
    if len(token) != TOKEN_BYTES:
        raise ValueError("a token is 94 bytes")
    return f"{int.from_bytes(token, 'big'):0{TOKEN_DIGITS}d}"


def from_digits(digits: str) -> bytes:
    """Return the 94 bytes written by ``to_digits``.

    Raise ``ValueError`` unless ``digits`` is exactly 227 ASCII digits whose value fits in 94 bytes; no
    whitespace is tolerated here (``ecode.verifier.verify`` strips scanner input itself).
    """
    if not (len(digits) == TOKEN_DIGITS and digits.isascii() and digits.isdigit()):
        raise ValueError("a token is exactly 227 ASCII digits")
    value = int(digits)
    if value >> TOKEN_BITS:
        raise ValueError("token value does not fit in 94 bytes")
    return value.to_bytes(TOKEN_BYTES, "big")


@dataclass(frozen=True, slots=True)
class Token:
    """The fields of a version-1 token, exactly as its 94 bytes carry them; says nothing about validity."""

    version: int
    kid: int
    iat: int
    ttl_units: int
    subject: bytes
    claims: int
    signature: bytes

    @classmethod
    def from_bytes(cls, token: bytes) -> Self:
        """Return the fields of a 94-byte token without checking anything but its length."""
        if len(token) != TOKEN_BYTES:
            raise ValueError("a token is 94 bytes")
        return cls(*LAYOUT.unpack(token))

    def to_bytes(self) -> bytes:
        """Return the 94 bytes these fields came from."""
        return LAYOUT.pack(
            self.version, self.kid, self.iat, self.ttl_units, self.subject, self.claims, self.signature
        )

    @property
    def kid_hex(self) -> str:
        """The key id as the 8 lowercase hex digits used in the published key set."""
        return f"{self.kid:08x}"

    @property
    def lifetime(self) -> int:
        """The lifetime in seconds."""
        return self.ttl_units * TTL_UNIT_SECONDS

    @property
    def expires_at(self) -> int:
        """The Unix time the token stops being valid, before verifiers add ``CLOCK_SKEW``."""
        return self.iat + self.ttl_units * TTL_UNIT_SECONDS

    @property
    def region(self) -> str:
        """The 6-digit GB/T 2260 code of the insured area."""
        return f"{self.claims >> 12:06d}"

    @property
    def scheme(self) -> int:
        """The insurance scheme: ``SCHEME_EMPLOYEE`` or ``SCHEME_RESIDENT``."""
        return self.claims >> 8 & 0xF

    @property
    def filing_in_force(self) -> bool:
        """Whether an approved cross-provincial filing was in force when the token was issued."""
        return bool(self.claims & FLAG_FILING_IN_FORCE)
