"""Personal data at rest: AES-256-GCM with a versioned key, and a keyed hash for lookup and uniqueness.

Stored form: ``v<version>:<base64url(nonce ‖ ciphertext ‖ tag)>``. The column name is bound as associated data,
so a ciphertext copied into another column does not decrypt. The keyed hash (HMAC-SHA256 under a key derived
from the current key) lets us find a person by ID number or phone without storing either in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key version or tampered data)."""


def decode_key(value: str, size: int, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} is not URL-safe base64") from exc
    if len(raw) != size:
        raise ImproperlyConfigured(f"{name} must decode to {size} bytes, got {len(raw)}")
    return raw


@lru_cache(maxsize=8)
def _keys(current: str, version: int, old: str) -> tuple[int, dict[int, bytes]]:
    keys = {version: decode_key(current, 32, "PII_ENCRYPTION_KEY")}
    for item in filter(None, (part.strip() for part in old.split(","))):
        ver, _, key = item.partition(":")
        keys.setdefault(int(ver), decode_key(key, 32, "PII_ENCRYPTION_OLD_KEYS"))
    return version, keys


@lru_cache(maxsize=16)
def _cipher(key: bytes) -> AESGCM:
    # One AES-GCM object per key, made once: building it (the key schedule) costs more than sealing a name.
    return AESGCM(key)


@lru_cache(maxsize=8)
def _hash_key(key: bytes) -> bytes:
    return hashlib.sha256(b"yibao-blind-index:" + key).digest()


def _keyring() -> tuple[int, dict[int, bytes]]:
    if not settings.PII_ENCRYPTION_KEY:
        raise ImproperlyConfigured("PII_ENCRYPTION_KEY is not set")
    return _keys(
        settings.PII_ENCRYPTION_KEY, settings.PII_ENCRYPTION_KEY_VERSION, settings.PII_ENCRYPTION_OLD_KEYS
    )


def encrypt(plaintext: str, *, context: str) -> str:
    version, keys = _keyring()
    nonce = os.urandom(12)
    sealed = _cipher(keys[version]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"v{version}:" + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decrypt(stored: str, *, context: str) -> str:
    _, keys = _keyring()
    head, sep, body = stored.partition(":")
    if not sep or not head.startswith("v") or not head[1:].isdigit():
        raise DecryptionError("not an encrypted value")
    key = keys.get(int(head[1:]))
    if key is None:
        raise DecryptionError("unknown key version")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        return _cipher(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError("tampered or wrong key") from exc


def key_version(stored: str) -> int | None:
    head = stored.partition(":")[0]
    return int(head[1:]) if head.startswith("v") and head[1:].isdigit() else None


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash of a normalised value, for exact lookup and uniqueness; reveals nothing without the key."""
    version, keys = _keyring()
    return hmac.new(_hash_key(keys[version]), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
