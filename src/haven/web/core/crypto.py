"""Field encryption with a key ring: encrypt with the first key, decrypt with any.

Tokens are ``version(1) | key id(4) | nonce(12) | AES-256-GCM ciphertext+tag``; the
field's name is authenticated as associated data, so a ciphertext copied into
another field does not decrypt.  Rotating keys: put the new key first, keep the old
ones until ``haven rotate-keys`` (re-encryption) has run.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_VERSION = b"\x01"


class DecryptionError(Exception):
    """The value was not encrypted with any key in the ring, or was tampered with."""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"haven-key-id:" + key).digest()[:4]


@lru_cache(maxsize=8)
def _ring(encoded: tuple[str, ...]) -> tuple[tuple[bytes, AESGCM], ...]:
    ring = []
    for item in encoded:
        try:
            key = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except ValueError:
            raise ImproperlyConfigured("HAVEN_ENCRYPTION_KEYS holds a key that is not base64") from None
        if len(key) != 32:
            raise ImproperlyConfigured("each HAVEN_ENCRYPTION_KEYS key must be 32 bytes (base64 of 32 bytes)")
        ring.append((_key_id(key), AESGCM(key)))
    if not ring:
        raise ImproperlyConfigured("HAVEN_ENCRYPTION_KEYS is empty")
    return tuple(ring)


def key_ring() -> tuple[tuple[bytes, AESGCM], ...]:
    return _ring(tuple(settings.HAVEN_ENCRYPTION_KEYS))


def encrypt(plaintext: str, context: str) -> bytes:
    return encrypt_bytes(plaintext.encode(), context)


def decrypt(token: bytes | memoryview, context: str) -> str:
    return decrypt_bytes(token, context).decode()


def encrypt_bytes(data: bytes, context: str) -> bytes:
    """:func:`encrypt` for binary values (an evidence screenshot)."""
    key_id, aead = key_ring()[0]
    nonce = os.urandom(12)
    return _VERSION + key_id + nonce + aead.encrypt(nonce, data, context.encode())


def decrypt_bytes(token: bytes | memoryview, context: str) -> bytes:
    token = bytes(token)
    if len(token) < 1 + 4 + 12 + 16 or token[:1] != _VERSION:
        raise DecryptionError("not an encrypted value")
    key_id, nonce, body = token[1:5], token[5:17], token[17:]
    for candidate_id, aead in key_ring():
        if candidate_id == key_id:
            try:
                return aead.decrypt(nonce, body, context.encode())
            except InvalidTag:
                raise DecryptionError("the value was tampered with or belongs elsewhere") from None
    raise DecryptionError("the value was encrypted with a key that is no longer in HAVEN_ENCRYPTION_KEYS")


def is_current(token: bytes | memoryview) -> bool:
    """Whether the value is encrypted with the first (current) key."""
    return bytes(token)[1:5] == key_ring()[0][0]
