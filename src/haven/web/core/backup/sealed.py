"""The encrypted container of a backup: a header, then the plaintext sealed in fixed-size chunks.

* **Header** (72 bytes): magic ``HAVENBK\\0``, format version (1), key derivation (1: scrypt) with
  log2 N, r and p, a 16-byte salt, the chunk size, a random 7-byte nonce prefix, and an HMAC-SHA256
  of those fields under a second key derived from the passphrase -- so a wrong passphrase is told
  apart from a damaged file before anything is decrypted.
* **Chunks**: scrypt turns the passphrase and salt into an AES-256-GCM key.  Each chunk of plaintext
  (1 MiB, the last one shorter and possibly empty) is sealed under the nonce ``prefix | counter
  (4 bytes, big-endian) | last (1 byte)`` with the header's fields as associated data (the STREAM
  construction of Hoang, Reyhanitabar, Rogaway and Vizár): a changed byte, a swapped, repeated or
  dropped chunk, a file cut short at any point and a changed header all fail to authenticate.

Both sides stream: the writer holds one chunk, the reader two.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import struct
import unicodedata
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = 1
MIN_PASSPHRASE = 12
CHUNK_SIZE = 1 << 20
KDF_LOG_N = 17  # scrypt N = 2**17, r = 8, p = 1: 128 MiB of memory and about 0.4 s a try

_MAGIC = b"HAVENBK\x00"
_KDF_SCRYPT = 1
_FIELDS = struct.Struct(">8sBBBBB16sI7s")  # magic, format, kdf, log2 N, r, p, salt, chunk size, prefix
HEADER_SIZE = _FIELDS.size + 32  # the fields and their HMAC
_TAG = 16
_LAST = b"\x01"
_MORE = b"\x00"


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says why (and what to do)."""


class WrongPassphrase(BackupError):
    """The passphrase does not open the backup."""


class BackupDamaged(BackupError):
    """The file is not an intact backup: changed, cut short, or not a Haven backup at all."""


def check_passphrase(text: str) -> str:
    """The passphrase as the key derivation sees it (NFC, so that the same characters typed on
    another system give the same key), or BackupError when it is empty or short."""
    passphrase = unicodedata.normalize("NFC", text.strip())
    if not passphrase:
        raise BackupError("the backup passphrase is empty")
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(
            f"the backup passphrase must be at least {MIN_PASSPHRASE} characters "
            f"(it has {len(passphrase)}): it protects the keys of every case in the backup"
        )
    return passphrase


def _derive(passphrase: str, salt: bytes, log_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """The AES key and the header-check key."""
    material = Scrypt(salt=salt, length=64, n=1 << log_n, r=r, p=p).derive(passphrase.encode())
    return material[:32], material[32:]


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise BackupError("the backup is too large for its format (over 4 billion chunks)")
    return prefix + counter.to_bytes(4, "big") + (_LAST if last else _MORE)


class SealedWriter:
    """A write-only stream that seals what is written to ``raw``, chunk by chunk; :meth:`close`
    seals the last chunk, which marks the end."""

    def __init__(
        self, raw: IO[bytes], passphrase: str, *, chunk_size: int = CHUNK_SIZE, kdf_log_n: int = KDF_LOG_N
    ) -> None:
        salt, self._prefix = os.urandom(16), os.urandom(7)
        self._fields = _FIELDS.pack(
            _MAGIC, FORMAT, _KDF_SCRYPT, kdf_log_n, 8, 1, salt, chunk_size, self._prefix
        )
        data_key, check_key = _derive(passphrase, salt, kdf_log_n, 8, 1)
        self._raw = raw
        self._aead = AESGCM(data_key)
        self._chunk = chunk_size
        self._counter = 0
        self._buffer = bytearray()
        self._closed = False
        raw.write(self._fields + hmac.new(check_key, self._fields, hashlib.sha256).digest())

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        # Strictly more than a chunk: what is left at close (1 to chunk_size bytes) is the last one.
        while len(self._buffer) > self._chunk:
            self._seal(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]
        return len(data)

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self._raw.write(self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._fields))
        self._counter += 1


def _read_exact(raw: IO[bytes], size: int) -> bytes:
    parts, left = [], size
    while left:
        part = raw.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class SealedReader:
    """A read-only stream of what :class:`SealedWriter` sealed.  Raises :class:`WrongPassphrase` or
    :class:`BackupDamaged` as soon as something does not authenticate, and never returns a byte of a
    chunk that did not."""

    def __init__(self, raw: IO[bytes], passphrase: str) -> None:
        head = _read_exact(raw, HEADER_SIZE)
        if not head or not head.startswith(_MAGIC[: len(head)]):
            raise BackupDamaged("not a Haven backup file")
        if len(head) < HEADER_SIZE:
            raise BackupDamaged("the backup is cut short: its header is incomplete")
        fields = head[: _FIELDS.size]
        _, version, kdf, log_n, r, p, salt, chunk, prefix = _FIELDS.unpack(fields)
        if version != FORMAT:
            raise BackupDamaged(
                f"the backup is in format {version}, which this Haven does not read (it reads format "
                f"{FORMAT}): restore it with the Haven version that made it, or a newer one"
            )
        # Bounds before deriving: a made-up header must not make this process allocate gigabytes.
        if kdf != _KDF_SCRYPT or not (10 <= log_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4):
            raise BackupDamaged("the backup's header names key-derivation settings Haven never writes")
        if not 4096 <= chunk <= 1 << 24:
            raise BackupDamaged("the backup's header names a chunk size Haven never writes")
        data_key, check_key = _derive(passphrase, salt, log_n, r, p)
        expected = hmac.new(check_key, fields, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, head[_FIELDS.size :]):
            raise WrongPassphrase("the passphrase does not open this backup (or its header was changed)")
        self._raw = raw
        self._fields = fields
        self._prefix = prefix
        self._aead = AESGCM(data_key)
        self._sealed = chunk + _TAG
        self._counter = 0
        self._plain = bytearray()
        self._done = False
        self._ahead = _read_exact(raw, self._sealed)
        if not self._ahead:
            raise BackupDamaged("the backup is cut short: nothing follows its header")

    def _open_next(self) -> None:
        block = self._ahead
        # A chunk is the last one when the file ends right after it; a shorter one always is.
        self._ahead = _read_exact(self._raw, self._sealed) if len(block) == self._sealed else b""
        last = not self._ahead
        try:
            self._plain += self._aead.decrypt(_nonce(self._prefix, self._counter, last), block, self._fields)
        except InvalidTag:
            raise BackupDamaged(self._why(block, last)) from None
        self._counter += 1
        self._done = last

    def _why(self, block: bytes, last: bool) -> str:
        if last:
            with contextlib.suppress(InvalidTag):
                self._aead.decrypt(_nonce(self._prefix, self._counter, False), block, self._fields)
                return f"the backup is cut short: it ends after part {self._counter + 1}, before the last"
        return f"the backup is damaged or was changed: part {self._counter + 1} does not authenticate"

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._plain) < size) and not self._done:
            self._open_next()
        take = len(self._plain) if size < 0 else min(size, len(self._plain))
        data = bytes(self._plain[:take])
        del self._plain[:take]
        return data

    def finish(self) -> None:
        """Read to the end: only then is it known that nothing was cut off."""
        while not self._done:
            self._open_next()
            self._plain.clear()
