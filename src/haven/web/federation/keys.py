"""A centre's keys and what they do: Ed25519 signs, X25519 lets another centre seal data for it.

Pure functions over ``cryptography``, importable without Django, so that ``haven sharing verify``
runs on a machine that has the ``haven`` command but no server.

A *key card* is a centre's public half: its name, its Ed25519 signing key and its X25519 exchange
key (raw, base64), and a fingerprint of both that people compare over a second channel (a phone
call between the centres) the first time two centres connect.

Sealing (a case transfer): an ephemeral X25519 key agrees a secret with the recipient's exchange
key, HKDF-SHA256 turns it into an AES-256-GCM key, and the sealed box is bound to its context
(what it is, who sends it, to whom) as associated data, so that a box cannot be replayed as
another.  The sender signs the whole envelope with its Ed25519 key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw
_NO_ENCRYPTION = serialization.NoEncryption()
_SEAL_INFO = b"haven.federation.seal/1"


class KeyProblem(ValueError):
    """A key, key card, signature or sealed box that is not what it claims (a clear message)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(text, str) or len(text) > 100_000_000:
        raise KeyProblem(f"the {what} is missing or not text")
    try:
        data = base64.b64decode(text.encode(), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise KeyProblem(f"the {what} is not base64") from None
    if size is not None and len(data) != size:
        raise KeyProblem(f"the {what} is not {size} bytes long")
    return data


def new_private_keys() -> tuple[bytes, bytes]:
    """A fresh (signing, exchange) pair of raw 32-byte private keys."""
    signing = Ed25519PrivateKey.generate().private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)
    exchange = X25519PrivateKey.generate().private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)
    return signing, exchange


def public_of(signing_private: bytes, exchange_private: bytes) -> tuple[bytes, bytes]:
    signing = (
        Ed25519PrivateKey.from_private_bytes(signing_private).public_key().public_bytes(_RAW, _RAW_PUBLIC)
    )
    exchange = (
        X25519PrivateKey.from_private_bytes(exchange_private).public_key().public_bytes(_RAW, _RAW_PUBLIC)
    )
    return signing, exchange


def fingerprint(signing_public: bytes, exchange_public: bytes) -> str:
    """What people read to each other: 32 hex digits in groups of four."""
    digest = hashlib.sha256(b"haven-centre-key/1" + signing_public + exchange_public).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class KeyCard:
    centre: str
    signing_key: bytes
    exchange_key: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_key, self.exchange_key)

    def as_dict(self) -> dict[str, str]:
        return {
            "centre": self.centre,
            "signing_key": b64(self.signing_key),
            "exchange_key": b64(self.exchange_key),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Any) -> KeyCard:
        if not isinstance(data, dict):
            raise KeyProblem("a key card is a JSON object with centre, signing_key and exchange_key")
        centre = data.get("centre")
        if not isinstance(centre, str) or not centre.strip() or len(centre) > 200:
            raise KeyProblem("the key card names no centre")
        card = cls(
            centre=centre.strip(),
            signing_key=unb64(data.get("signing_key"), "signing key", 32),
            exchange_key=unb64(data.get("exchange_key"), "exchange key", 32),
        )
        claimed = data.get("fingerprint")
        if claimed is not None and claimed != card.fingerprint:
            raise KeyProblem("the key card's fingerprint does not match its keys")
        return card


def sign(signing_private: bytes, data: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(signing_private).sign(data)


def verify(signing_public: bytes, data: bytes, signature: bytes) -> None:
    """Raise :class:`KeyProblem` unless ``signature`` is the key's signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(signing_public).verify(signature, data)
    except (InvalidSignature, ValueError):
        raise KeyProblem(
            "the signature does not match: the data was changed or signed by another key"
        ) from None


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_SEAL_INFO).derive(
        shared
    )


def seal(recipient_exchange: bytes, plaintext: bytes, context: bytes) -> dict[str, str]:
    """Encrypt ``plaintext`` so that only the holder of the recipient's exchange key can open it."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, _RAW_PUBLIC)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_exchange))
    nonce = os.urandom(12)
    box = AESGCM(_box_key(shared, ephemeral_public, recipient_exchange)).encrypt(nonce, plaintext, context)
    return {"ephemeral": b64(ephemeral_public), "nonce": b64(nonce), "box": b64(box)}


def open_sealed(exchange_private: bytes, sealed: Any, context: bytes) -> bytes:
    if not isinstance(sealed, dict):
        raise KeyProblem("the sealed part is missing")
    ephemeral = unb64(sealed.get("ephemeral"), "ephemeral key", 32)
    nonce = unb64(sealed.get("nonce"), "nonce", 12)
    box = unb64(sealed.get("box"), "sealed box")
    private = X25519PrivateKey.from_private_bytes(exchange_private)
    recipient = private.public_key().public_bytes(_RAW, _RAW_PUBLIC)
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
    try:
        return AESGCM(_box_key(shared, ephemeral, recipient)).decrypt(nonce, box, context)
    except InvalidTag:
        raise KeyProblem(
            "the sealed box cannot be opened with this centre's key (or it was changed)"
        ) from None


def canonical(data: Any) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
