"""Offline verification of e-code tokens against the published key set, and the e-code error codes.

Anyone holding the key set published at ``/.well-known/ecode-keys.json`` can check a scanned code without
calling the service::

    keys = KeySet.from_json(cached_jwks_bytes)
    token = verify(scanned_text, keys)          # raises VerificationError with .code

From a shell: ``python -m ecode.verifier --keys keys.json TOKEN [--now UNIX]`` (TOKEN ``-`` reads standard
input) prints a JSON result and exits 0 when valid, 1 when invalid and 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from ecode.token import (
    CLOCK_SKEW,
    HEADER,
    LAYOUT,
    SIGNING_TAG,
    TOKEN_BITS,
    TOKEN_BYTES,
    TOKEN_DIGITS,
    TTL_UNIT_SECONDS,
    VERSION,
    Token,
)


class EcodeErrorCode(StrEnum):
    """Why an e-code was refused; ``verify`` raises the offline codes, the service adds the online ones."""

    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    UNKNOWN_SUBJECT = "unknown_subject"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    CREDENTIAL_REVOKED = "credential_revoked"
    ALREADY_USED = "already_used"
    WRONG_INSTITUTION = "wrong_institution"
    NOT_COVERED = "not_covered"


OFFLINE_ERROR_CODES = frozenset(
    {
        EcodeErrorCode.MALFORMED,
        EcodeErrorCode.UNSUPPORTED_VERSION,
        EcodeErrorCode.UNKNOWN_KEY,
        EcodeErrorCode.BAD_SIGNATURE,
        EcodeErrorCode.NOT_YET_VALID,
        EcodeErrorCode.EXPIRED,
    }
)

# Shown to counter staff and patients, so they say what to do next and never echo the code or any person.
_MESSAGES: dict[EcodeErrorCode, tuple[str, str]] = {
    EcodeErrorCode.MALFORMED: (
        "无法识别的医保电子凭证码，请重新扫码。",
        "This is not a valid e-code. Please scan again.",
    ),
    EcodeErrorCode.UNSUPPORTED_VERSION: (
        "暂不支持该版本的医保电子凭证码，请升级扫码终端。",
        "This e-code version is not supported. Please update the scanning terminal.",
    ),
    EcodeErrorCode.UNKNOWN_KEY: (
        "医保电子凭证码的签发密钥未知或已停用，请更新密钥后重试。",
        "The e-code was signed with an unknown or withdrawn key. Please refresh the key set and try again.",
    ),
    EcodeErrorCode.BAD_SIGNATURE: (
        "医保电子凭证码签名无效，请让参保人刷新后重新出示。",
        "The e-code signature is invalid. Ask the insured person to refresh the code and show it again.",
    ),
    EcodeErrorCode.NOT_YET_VALID: (
        "医保电子凭证码尚未生效，请检查终端时间。",
        "The e-code is not valid yet. Please check the terminal's clock.",
    ),
    EcodeErrorCode.EXPIRED: (
        "医保电子凭证码已过期，请让参保人刷新后重新出示。",
        "The e-code has expired. Ask the insured person to refresh the code and show it again.",
    ),
    EcodeErrorCode.UNKNOWN_SUBJECT: (
        "未找到该医保电子凭证码对应的电子凭证。",
        "No e-code credential matches this code.",
    ),
    EcodeErrorCode.CREDENTIAL_SUSPENDED: (
        "该医保电子凭证已暂停使用。",
        "This e-code credential is suspended.",
    ),
    EcodeErrorCode.CREDENTIAL_REVOKED: (
        "该医保电子凭证已注销。",
        "This e-code credential has been revoked.",
    ),
    EcodeErrorCode.ALREADY_USED: (
        "该医保电子凭证码已使用，请让参保人刷新后重新出示。",
        "This e-code has already been used. Ask the insured person to show a new one.",
    ),
    EcodeErrorCode.WRONG_INSTITUTION: (
        "该医保电子凭证码不能在本机构使用。",
        "This e-code cannot be used at this institution.",
    ),
    EcodeErrorCode.NOT_COVERED: (
        "本机构不能为该参保人直接结算，此码未使用。",
        "Direct settlement is not possible here for this person; the code was not used.",
    ),
}


def message(code: EcodeErrorCode | str, lang: str = "zh") -> str:
    """Return the human message for an error code: English for ``en`` (and ``en-*``), Chinese otherwise.

    Raise ``ValueError`` for a string that is not an ``EcodeErrorCode`` value.
    """
    zh, en = _MESSAGES[EcodeErrorCode(code)]
    return en if lang.lower().split("-", 1)[0].split("_", 1)[0] == "en" else zh


class VerificationError(Exception):
    """A token was refused; ``code`` says why and the message carries nothing from the token."""

    def __init__(self, code: EcodeErrorCode | str) -> None:
        self.code = EcodeErrorCode(code)
        super().__init__(self.code.value)

    def __str__(self) -> str:
        return f"{self.code.value}: {message(self.code, 'en')}"


@dataclass(frozen=True, slots=True)
class VerifiedToken(Token):
    """A token whose version, key, signature and validity window have passed the offline checks."""


KEY_STATUSES = ("active", "verify-only", "revoked")
_KID_RE = re.compile(r"[0-9a-f]{8}")
_X_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(kid: int, public_key: Ed25519PublicKey, status: str = "active") -> dict[str, str]:
    """Return the RFC 8037 JWK under which a verifier will accept tokens signed with ``kid``.

    ``status`` is ``active`` (the issuer signs with it), ``verify-only`` (retired but still accepted) or
    ``revoked`` (listed so that verifiers refuse it).
    """
    if isinstance(kid, bool) or not isinstance(kid, int) or not 0 <= kid < 1 << 32:
        raise ValueError("kid must fit in 32 unsigned bits")
    if status not in KEY_STATUSES:
        raise ValueError(f"status must be one of {KEY_STATUSES}")
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": f"{kid:08x}",
        "x": _b64url(raw),
        "alg": "EdDSA",
        "use": "sig",
        "status": status,
    }


class KeySet:
    """The published e-code public keys, parsed once so each verification is a dictionary look-up."""

    __slots__ = ("_keys", "_statuses", "_verifiers")

    def __init__(self, keys: Iterable[tuple[int, Ed25519PublicKey, str]] = ()) -> None:
        """Hold ``(kid, public_key, status)`` triples; raise ``ValueError`` on a bad status or a kid twice."""
        self._statuses: dict[int, str] = {}
        # Only keys that may verify are looked up on the hot path, so a revoked kid is simply absent.
        self._keys: dict[int, Ed25519PublicKey] = {}
        # The same keys for libsodium, which checks an Ed25519 signature in half the time OpenSSL takes
        # (docs/performance.md) and is at least as strict (it also refuses small-order points).
        self._verifiers: dict[int, VerifyKey] = {}
        for kid, public_key, status in keys:
            if status not in KEY_STATUSES:
                raise ValueError(f"key {kid:08x}: status must be one of {KEY_STATUSES}")
            if kid in self._statuses:
                raise ValueError(f"key {kid:08x} is listed twice")
            self._statuses[kid] = status
            if status != "revoked":
                self._keys[kid] = public_key
                self._verifiers[kid] = VerifyKey(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def from_jwks(cls, jwks: Mapping) -> KeySet:
        """Return the key set described by a JWKS document (a ``{"keys": [...]}`` mapping).

        Keys of another type or curve are ignored, as RFC 7517 asks; a malformed Ed25519 key, a kid that is
        not 8 lowercase hex digits, an unknown status or a repeated kid raise ``ValueError``.
        """
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError('a JWKS is an object with a "keys" list')
        triples = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ValueError("each JWKS key must be an object")
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
                continue
            kid, x, status = entry.get("kid"), entry.get("x"), entry.get("status")
            if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
                raise ValueError("kid must be 8 lowercase hex digits")
            if not isinstance(x, str) or not _X_RE.fullmatch(x):
                raise ValueError(f"key {kid}: x must be 32 bytes in unpadded base64url")
            try:
                raw = base64.urlsafe_b64decode(x + "=")
            except binascii.Error as exc:
                raise ValueError(f"key {kid}: x is not base64url") from exc
            if _b64url(raw) != x:  # refuse non-canonical spellings of the same key
                raise ValueError(f"key {kid}: x is not canonical base64url")
            triples.append((int(kid, 16), Ed25519PublicKey.from_public_bytes(raw), status))
        return cls(triples)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeySet:
        """Return the key set in a JWKS JSON document; raise ``ValueError`` if it is not one."""
        return cls.from_jwks(json.loads(text))

    def status(self, kid: int) -> str | None:
        """Return the status published for ``kid``, or ``None`` if the set does not list it."""
        return self._statuses.get(kid)

    def public_key(self, kid: int) -> Ed25519PublicKey | None:
        """Return the key that verifies tokens of ``kid``, or ``None`` if it is unknown or revoked."""
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        """Whether tokens signed under ``kid`` can verify."""
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._statuses)

    def __repr__(self) -> str:
        listed = ", ".join(f"{kid:08x}:{status}" for kid, status in self._statuses.items())
        return f"<KeySet {listed}>"


_SIGNED_BYTES = HEADER.size
_unpack = LAYOUT.unpack


def verify(token: str, keys: KeySet, *, now: int | float | None = None) -> VerifiedToken:
    """Return the fields of ``token`` if it passes the offline checks at ``now``; else raise the reason.

    ``token`` is the 227-digit text form; surrounding whitespace, such as the Enter a scanner gun sends, is
    ignored. ``now`` is Unix time and defaults to this machine's clock. Accepted means: the layout is sound,
    the version is 1, ``kid`` is listed and not revoked, the Ed25519 signature holds, and
    ``iat - CLOCK_SKEW <= now <= iat + lifetime + CLOCK_SKEW``. Whether the credential exists and whether the
    token was already used are for the service to decide.
    """
    text = token.strip()
    # isascii() first: str.isdigit() also accepts non-ASCII digits that int() would read.
    if len(text) != TOKEN_DIGITS or not text.isascii() or not text.isdigit():
        raise VerificationError(EcodeErrorCode.MALFORMED)
    value = int(text)
    if value >> TOKEN_BITS:
        raise VerificationError(EcodeErrorCode.MALFORMED)
    raw = value.to_bytes(TOKEN_BYTES, "big")
    version, kid, iat, ttl_units, subject, claims, signature = _unpack(raw)
    if version != VERSION:
        raise VerificationError(EcodeErrorCode.UNSUPPORTED_VERSION)
    if not ttl_units:
        raise VerificationError(EcodeErrorCode.MALFORMED)
    verifier = keys._verifiers.get(kid)
    if verifier is None:
        raise VerificationError(EcodeErrorCode.UNKNOWN_KEY)
    try:
        verifier.verify(SIGNING_TAG + raw[:_SIGNED_BYTES], signature)
    except BadSignatureError:
        raise VerificationError(EcodeErrorCode.BAD_SIGNATURE) from None
    if now is None:
        now = time.time()
    if now < iat - CLOCK_SKEW:
        raise VerificationError(EcodeErrorCode.NOT_YET_VALID)
    if now > iat + ttl_units * TTL_UNIT_SECONDS + CLOCK_SKEW:
        raise VerificationError(EcodeErrorCode.EXPIRED)
    return VerifiedToken(version, kid, iat, ttl_units, subject, claims, signature)


def result_json(token: VerifiedToken) -> dict[str, object]:
    """Return the JSON-ready summary of a verified token that the command line prints."""
    return {
        "valid": True,
        "kid": token.kid_hex,
        "iat": token.iat,
        "expires_at": token.expires_at,
        "region": token.region,
        "scheme": token.scheme,
        "filing_in_force": token.filing_in_force,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return 0 for a valid token, 1 for an invalid one (argparse exits 2 on misuse)."""
    parser = argparse.ArgumentParser(
        prog="python -m ecode.verifier", description="Verify an e-code offline against a published key set."
    )
    parser.add_argument("--keys", required=True, metavar="PATH", help="the published key set (JWKS JSON)")
    parser.add_argument("--now", type=float, metavar="UNIX", help="verify at this Unix time, not the clock")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"), help="language of the message")
    parser.add_argument("token", help="the 227 digits, or - to read them from standard input")
    args = parser.parse_args(argv)
    try:
        keys = KeySet.from_json(Path(args.keys).read_bytes())
    except (OSError, ValueError) as exc:
        parser.error(f"cannot load the key set: {exc}")
    text = sys.stdin.read() if args.token == "-" else args.token
    try:
        result = result_json(verify(text, keys, now=args.now))
    except VerificationError as exc:
        result = {"valid": False, "code": exc.code.value, "message": message(exc.code, args.lang)}
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
