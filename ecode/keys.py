"""Key material of the e-code: signing keys sealed under the KEK, the subject key, and the key ring.

The key ring is what the hot path reads: the published key set, the active private key and the JWKS document,
loaded from the database at most every ``KEYRING_TTL_SECONDS`` per process. A rotation or revocation made in
this process is seen at once; other processes see it within that TTL, which rotation adds to the old key's
verify window so that no token signed by a process that has not yet noticed the rotation is left unverifiable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from core.pii import decode_key
from ecode.token import SUBJECT_KEY_BYTES
from ecode.verifier import KeySet, public_jwk

KEYRING_TTL_SECONDS = 5.0
_SEAL_VERSION = "v1"


class KeyMaterialError(Exception):
    """A sealed private key could not be opened: wrong ECODE_KEK or tampered data. Carries no key bytes."""


# --- Sealing private keys under the key-encryption key ---


def _kek() -> bytes:
    if not settings.ECODE_KEK:
        raise ImproperlyConfigured("ECODE_KEK is not set")
    return _decoded(settings.ECODE_KEK, 32, "ECODE_KEK")


@lru_cache(maxsize=8)
def _decoded(value: str, size: int, name: str) -> bytes:
    return decode_key(value, size, name)


def _aad(kid: int) -> bytes:
    # Binding the kid means a sealed key copied onto another row does not open.
    return b"yibao-ecode-signing-key:" + kid.to_bytes(4, "big")


def private_key_seal(*, kid: int, private_key: Ed25519PrivateKey) -> str:
    """Return ``private_key`` encrypted with AES-256-GCM under ECODE_KEK, as text for the database."""
    nonce = os.urandom(12)
    sealed = AESGCM(_kek()).encrypt(nonce, private_key.private_bytes_raw(), _aad(kid))
    return f"{_SEAL_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def private_key_open(*, kid: int, sealed: str) -> Ed25519PrivateKey:
    """Return the private key sealed by ``private_key_seal``; raise KeyMaterialError if it does not open."""
    head, sep, body = sealed.partition(":")
    if head != _SEAL_VERSION or not sep:
        raise KeyMaterialError("unknown sealed-key format")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        return Ed25519PrivateKey.from_private_bytes(AESGCM(_kek()).decrypt(raw[:12], raw[12:], _aad(kid)))
    except (InvalidTag, ValueError) as exc:
        raise KeyMaterialError(f"signing key {kid:08x} does not open under ECODE_KEK") from exc


# --- The subject key (never published) ---


def subject_key() -> bytes:
    """The current AES-128 subject key from ECODE_SUBJECT_KEY."""
    if not settings.ECODE_SUBJECT_KEY:
        raise ImproperlyConfigured("ECODE_SUBJECT_KEY is not set")
    return _decoded(settings.ECODE_SUBJECT_KEY, SUBJECT_KEY_BYTES, "ECODE_SUBJECT_KEY")


def subject_keys() -> tuple[bytes, ...]:
    """The current subject key, then older ones from the optional ECODE_SUBJECT_OLD_KEYS ("1:<key>,...").

    Tokens do not name the subject key version, so after a rotation the service tries the older keys for
    the few minutes old tokens live; a wrong key yields an unknown member id, never a wrong person.
    """
    old = settings.ECODE_SUBJECT_OLD_KEYS
    keys = [subject_key()]
    for item in filter(None, (part.strip() for part in old.split(","))):
        keys.append(_decoded(item.partition(":")[2], SUBJECT_KEY_BYTES, "ECODE_SUBJECT_OLD_KEYS"))
    return tuple(keys)


def subject_hash(block: bytes, key: bytes | None = None) -> str:
    """A keyed 128-bit hash of a token's subject block: names one code for one-use checks, reveals nothing.

    Keyed by the current subject key unless ``key`` names the one the code was made under (a use passes it,
    so that a code keeps its hash across a subject-key rotation)."""
    return hashlib.blake2b(
        block, key=key or subject_key(), digest_size=16, person=b"ecode-subject"
    ).hexdigest()


# --- The key ring ---


@dataclass(frozen=True, slots=True)
class KeyEntry:
    kid: int
    public_key: Ed25519PublicKey
    status: str
    verify_until: datetime | None

    def verifies_at(self, when: datetime) -> bool:
        if self.status == "active":
            return True
        return self.status == "verify-only" and (self.verify_until is None or when <= self.verify_until)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys as loaded at one moment, with the key set and JWKS precomputed for that moment."""

    entries: tuple[KeyEntry, ...]
    signing_kid: int | None
    signing_sealed: str | None
    loaded_at: datetime
    keyset: KeySet
    jwks_body: bytes
    etag: str
    # The cached key set holds for any time in (valid_after, valid_until]: between the verify-only deadlines.
    valid_after: datetime | None
    valid_until: datetime | None

    def _cached_for(self, when: datetime) -> bool:
        return (self.valid_after is None or when > self.valid_after) and (
            self.valid_until is None or when <= self.valid_until
        )

    def keyset_at(self, when: datetime) -> KeySet:
        """The key set that verifies tokens at ``when`` (verify-only keys past their window left out)."""
        if self._cached_for(when):
            return self.keyset
        return _keyset(self.entries, when)

    def jwks_at(self, when: datetime) -> tuple[bytes, str]:
        """The JWKS document (bytes) of the keys that verify at ``when``, and its ETag."""
        if self._cached_for(when):
            return self.jwks_body, self.etag
        return _jwks(self.entries, when)

    @property
    def signing_key(self) -> tuple[int, Ed25519PrivateKey] | None:
        """The active key's id and private key, or None if no key is active."""
        if self.signing_kid is None or self.signing_sealed is None:
            return None
        return self.signing_kid, _open_cached(self.signing_kid, self.signing_sealed)


@lru_cache(maxsize=4)
def _open_cached(kid: int, sealed: str) -> Ed25519PrivateKey:
    return private_key_open(kid=kid, sealed=sealed)


def _keyset(entries: tuple[KeyEntry, ...], when: datetime) -> KeySet:
    return KeySet((e.kid, e.public_key, e.status) for e in entries if e.verifies_at(when))


def _jwks(entries: tuple[KeyEntry, ...], when: datetime) -> tuple[bytes, str]:
    keys = [public_jwk(e.kid, e.public_key, e.status) for e in entries if e.verifies_at(when)]
    body = json.dumps({"keys": keys}, separators=(",", ":"), sort_keys=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _load() -> KeyRing:
    from ecode.models import SigningKey, SigningKeyStatus

    now = timezone.now()
    rows = list(
        SigningKey.objects.exclude(status=SigningKeyStatus.REVOKED)
        .order_by("-created_at", "kid")
        .values_list("kid", "public_key", "status", "verify_until", "private_key_sealed")
    )
    entries = tuple(
        KeyEntry(kid, Ed25519PublicKey.from_public_bytes(bytes(public)), status, until)
        for kid, public, status, until, _sealed in rows
    )
    active = next(
        ((kid, sealed) for kid, _p, status, _u, sealed in rows if status == SigningKeyStatus.ACTIVE), None
    )
    deadlines = [
        e.verify_until for e in entries if e.status == SigningKeyStatus.VERIFY_ONLY and e.verify_until
    ]
    body, etag = _jwks(entries, now)
    return KeyRing(
        entries=entries,
        signing_kid=active[0] if active else None,
        signing_sealed=active[1] if active else None,
        loaded_at=now,
        keyset=_keyset(entries, now),
        jwks_body=body,
        etag=etag,
        valid_after=max((d for d in deadlines if d < now), default=None),
        valid_until=min((d for d in deadlines if d >= now), default=None),
    )


_lock = threading.Lock()
_ring: KeyRing | None = None
_ring_expires = 0.0


def keyring() -> KeyRing:
    """The current key ring of this process, reloaded from the database when older than the TTL."""
    global _ring, _ring_expires
    ring = _ring
    if ring is not None and time.monotonic() < _ring_expires:
        return ring
    with _lock:
        if _ring is None or time.monotonic() >= _ring_expires:
            _ring = _load()
            _ring_expires = time.monotonic() + KEYRING_TTL_SECONDS
        return _ring


def keyring_invalidate() -> None:
    """Forget this process's key ring; call after changing signing keys (and again on commit)."""
    global _ring
    with _lock:
        _ring = None

    transaction.on_commit(_forget)


def _forget() -> None:
    global _ring
    with _lock:
        _ring = None
