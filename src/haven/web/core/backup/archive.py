"""What a backup holds: a tar stream with ``manifest.json`` first, then the members it lists.

Members: ``database/haven.sqlite3`` or ``database/haven.pgdump``; ``keys/secret_key``,
``keys/encryption_keys`` and ``keys/audit_keys`` (unless made without keys); ``audit-checkpoints/*``.
The manifest gives the format, the Haven version, the time (UTC), the database vendor and server
version, the latest applied migration of each app, the rows of every table, fingerprints of the keys
the server ran with, and the size and SHA-256 of every member.  Reading checks every member against
it and refuses a name it does not list, so nothing is written outside the folder it unpacks into.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from .sealed import FORMAT, BackupDamaged, BackupError, SealedReader

MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/haven.sqlite3"
POSTGRES_MEMBER = "database/haven.pgdump"
KEY_FILES = ("secret_key", "encryption_keys", "audit_keys")
CHECKPOINTS = "audit-checkpoints/"
_MEMBER = re.compile(
    r"database/haven\.(sqlite3|pgdump)|keys/(secret_key|encryption_keys|audit_keys)"
    r"|audit-checkpoints/[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
)
_MAX_MANIFEST = 16 << 20
PIECE = 1 << 20


def allowed_member(name: str) -> bool:
    return _MEMBER.fullmatch(name) is not None


def digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while piece := handle.read(PIECE):
            sha.update(piece)
            size += len(piece)
    return {"size": size, "sha256": sha.hexdigest()}


def _fingerprint(secret: str) -> str:
    """Names a key without giving it away: how a backup without keys says which ones it needs."""
    return hashlib.sha256(b"haven backup key fingerprint\x00" + secret.encode()).hexdigest()[:16]


def key_fingerprints(secret_key: str, encryption_keys: list[str], audit_keys: list[str]) -> dict[str, Any]:
    return {
        "secret_key": _fingerprint(secret_key),
        "encryption_keys": [_fingerprint(k) for k in encryption_keys],
        "audit_keys": [_fingerprint(k) for k in audit_keys],
    }


@dataclass(frozen=True)
class Manifest:
    data: dict[str, Any]

    @property
    def vendor(self) -> str:
        return str(self.data["database"]["vendor"])

    @property
    def tables(self) -> dict[str, int]:
        return dict(self.data["tables"])

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def migrations(self) -> dict[str, str]:
        return dict(self.data["migrations"])

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        return dict(self.data["members"])

    @property
    def keys_included(self) -> bool:
        return bool(self.data["keys"]["included"])

    @property
    def checkpoint_files(self) -> list[str]:
        return sorted(name for name in self.members if name.startswith(CHECKPOINTS))

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError
            members, tables, migrations = data["members"], data["tables"], data["migrations"]
            if data["database"]["vendor"] not in ("sqlite", "postgresql"):
                raise ValueError
            if not (isinstance(members, dict) and isinstance(tables, dict) and isinstance(migrations, dict)):
                raise ValueError
            for name, entry in members.items():
                if not allowed_member(name) or not isinstance(entry["size"], int):
                    raise ValueError
                if not isinstance(entry["sha256"], str):
                    raise ValueError
            if not all(isinstance(n, int) for n in tables.values()):
                raise ValueError
            if not isinstance(data["keys"]["included"], bool):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise BackupDamaged("the backup's manifest is not one Haven writes") from None
        return cls(data)


def walk(reader: SealedReader, sink: Callable[[str], IO[bytes] | None]) -> Manifest:
    """Read the archive in order, checking every member against the manifest; ``sink(name)`` says
    where a member's bytes go (None: they are only checked)."""
    manifest: Manifest | None = None
    seen: set[str] = set()
    try:
        # A tar stream ("r|") only reads; the stub asks for a seekable file all the same.
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for info in tar:
                if not info.isreg():
                    raise BackupDamaged(f"the backup holds {info.name!r}, which is not a plain file")
                source = tar.extractfile(info)
                if source is None:  # pragma: no cover - a regular member always has contents
                    raise BackupDamaged(f"the backup's {info.name!r} cannot be read")
                if manifest is None:
                    if info.name != MANIFEST or info.size > _MAX_MANIFEST:
                        raise BackupDamaged("the backup does not start with its manifest")
                    manifest = Manifest.parse(source.read())
                    continue
                entry = manifest.members.get(info.name)
                if entry is None or info.name in seen:
                    raise BackupDamaged(f"the backup holds {info.name!r}, which its manifest does not list")
                seen.add(info.name)
                sha, size = hashlib.sha256(), 0
                target = sink(info.name)
                try:
                    while piece := source.read(PIECE):
                        sha.update(piece)
                        size += len(piece)
                        if target is not None:
                            target.write(piece)
                finally:
                    if target is not None:
                        target.close()
                if size != entry["size"] or sha.hexdigest() != entry["sha256"]:
                    raise BackupDamaged(f"{info.name} in the backup does not match its digest")
        reader.finish()
    except tarfile.TarError as exc:
        raise BackupDamaged(f"the archive inside the backup cannot be read ({exc})") from None
    if manifest is None:
        raise BackupDamaged("the backup holds no manifest")
    missing = sorted(set(manifest.members) - seen)
    if missing:
        raise BackupDamaged(f"the backup lacks what its manifest lists: {', '.join(missing)}")
    return manifest


@contextlib.contextmanager
def _source(path: Path) -> Iterator[BinaryIO]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def verify_backup(path: Path, passphrase: str) -> Manifest:
    """Decrypt the whole backup and check every member against the manifest; keep nothing."""
    with _source(Path(path)) as raw:
        return walk(SealedReader(raw, passphrase), lambda name: None)


@dataclass(frozen=True)
class Unpacked:
    """A backup, decrypted and checked into a private folder."""

    manifest: Manifest
    root: Path

    @property
    def database_file(self) -> Path:
        return self.root / (SQLITE_MEMBER if self.manifest.vendor == "sqlite" else POSTGRES_MEMBER)

    def key(self, name: str) -> str | None:
        file = self.root / "keys" / name
        return file.read_text(encoding="utf-8").strip() if file.exists() else None


def unpack_backup(path: Path, passphrase: str, into: Path) -> Unpacked:
    """Decrypt ``path`` into the private, empty folder ``into``, checking everything."""

    def sink(name: str) -> IO[bytes]:
        target = into / name
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")

    with _source(Path(path)) as raw:
        manifest = walk(SealedReader(raw, passphrase), sink)
    return Unpacked(manifest, into)


# --- files written whole or not at all ------------------------------------------------------------


def staged_file(folder: Path, name: str) -> Path:
    """A new empty file (mode 0600) beside where ``name`` will go."""
    descriptor, staged = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    os.close(descriptor)
    return Path(staged)


def fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def publish(staged: Path, final: Path, *, replace: bool) -> None:
    """Move a finished file into place; without ``replace``, never over an existing one."""
    if replace:
        os.replace(staged, final)
    else:
        try:
            os.link(staged, final)
        except FileExistsError:
            raise BackupError(f"{final} already exists: not overwritten") from None
        except OSError:  # no hard links on this file system (some network and FAT ones)
            if final.exists():
                raise BackupError(f"{final} already exists: not overwritten") from None
            os.replace(staged, final)
        else:
            staged.unlink()
    fsync_folder(final.parent)
