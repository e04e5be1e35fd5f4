"""The audit chain's keys: HMAC keys for the links, and the Ed25519 keys of signed checkpoints.

``HAVEN_AUDIT_KEYS`` holds one or more 32-byte keys (URL-safe base64, comma-separated); the first
makes new links, the others only verify older ones.  A key is named in the trail by its *id* (16 hex
digits of a hash of it), never stored.  Each key's checkpoint signing key is derived from it (HKDF,
its own purpose string), so one secret serves both; the signing key's public half can be given to
an auditor, who then checks checkpoints without any secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class AuditKey:
    id: str
    secret: bytes

    def link(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    @property
    def signer(self) -> Ed25519PrivateKey:
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"haven audit checkpoints").derive(
            self.secret
        )
        return Ed25519PrivateKey.from_private_bytes(seed)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.signer.public_key()

    @property
    def public_text(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).decode()


def key_id(secret: bytes) -> str:
    return hashlib.sha256(b"haven audit key id\x00" + secret).hexdigest()[:16]


@cache
def _parse(configured: tuple[str, ...]) -> tuple[AuditKey, ...]:
    keys = []
    for n, text in enumerate(configured, 1):
        try:
            secret = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != 32:
            raise ImproperlyConfigured(
                f"HAVEN_AUDIT_KEYS: key {n} is not 32 bytes in URL-safe base64 (make one with: "
                "python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
            )
        keys.append(AuditKey(key_id(secret), secret))
    if not keys:
        raise ImproperlyConfigured("HAVEN_AUDIT_KEYS holds no key")
    return tuple(keys)


def keys() -> tuple[AuditKey, ...]:
    return _parse(tuple(settings.HAVEN_AUDIT_KEYS))


def current() -> AuditKey:
    return keys()[0]


def by_id(wanted: str) -> AuditKey | None:
    return next((k for k in keys() if k.id == wanted), None)


def public_key(text: str) -> Ed25519PublicKey:
    """An auditor's copy of a checkpoint public key (URL-safe base64 of its 32 bytes)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError(f"not an Ed25519 public key in URL-safe base64: {text!r}") from None
