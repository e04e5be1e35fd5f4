"""Making a backup, and restoring one into an empty database."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import database
from .archive import (
    CHECKPOINTS,
    KEY_FILES,
    MANIFEST,
    PIECE,
    Unpacked,
    allowed_member,
    digest,
    key_fingerprints,
    publish,
    staged_file,
    unpack_backup,
)
from .sealed import CHUNK_SIZE, FORMAT, KDF_LOG_N, BackupDamaged, BackupError, SealedWriter, check_passphrase

# Each key file: the setting that holds its keys, and the variable that configures them.
KEY_SETTINGS = {
    "secret_key": ("SECRET_KEY", "HAVEN_SECRET_KEY"),
    "encryption_keys": ("HAVEN_ENCRYPTION_KEYS", "HAVEN_ENCRYPTION_KEYS"),
    "audit_keys": ("HAVEN_AUDIT_KEYS", "HAVEN_AUDIT_KEYS"),
}


def _configured(name: str) -> str:
    """The keys of one key file as the running settings have them, as the file holds them."""
    from django.conf import settings

    value = getattr(settings, KEY_SETTINGS[name][0])
    return value if isinstance(value, str) else ",".join(value)


def _key_list(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def _running_fingerprints() -> dict[str, Any]:
    return key_fingerprints(
        _configured("secret_key"),
        _key_list(_configured("encryption_keys")),
        _key_list(_configured("audit_keys")),
    )


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    size: int
    vendor: str
    tables: int
    rows: int
    checkpoint_files: int
    keys_included: bool


def _gather(work: Path, using: str, include_keys: bool) -> tuple[database.Snapshot, list[tuple[str, Path]]]:
    """Everything the backup holds, as files in the private folder ``work``: (name, file) pairs."""
    from django.conf import settings

    # Checkpoints before the database: each one copied names an event the later image holds, so
    # the restored trail verifies against them.
    checkpoints: list[tuple[str, Path]] = []
    folder = Path(settings.HAVEN_AUDIT_CHECKPOINT_DIR)
    if folder.is_dir():
        (work / "checkpoints").mkdir(mode=0o700)
        for file in sorted(folder.iterdir()):
            name = CHECKPOINTS + file.name
            if file.is_file() and not file.is_symlink() and allowed_member(name):
                shutil.copyfile(file, work / "checkpoints" / file.name)
                checkpoints.append((name, work / "checkpoints" / file.name))
    image = database.snapshot(using, work)
    if not image.migrations:
        raise BackupError(
            "the database holds no Haven tables (no migrations applied): check HAVEN_DATABASE_URL "
            "(or HAVEN_DATA_DIR)"
        )
    files = [(image.member, image.file)]
    if include_keys:
        (work / "keys").mkdir(mode=0o700)
        for name in KEY_FILES:
            descriptor = os.open(work / "keys" / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(_configured(name) + "\n")
            files.append((f"keys/{name}", work / "keys" / name))
    return image, files + checkpoints


def _seal(
    raw: IO[bytes], sealer: SealedWriter, manifest: dict[str, Any], files: list[tuple[str, Path]]
) -> None:
    """The tar stream: the manifest, then each file, through ``sealer`` into ``raw``."""
    stamp = int(dt.datetime.fromisoformat(manifest["created_at"]).timestamp())
    body = json.dumps(manifest, indent=1).encode()
    # A tar stream ("w|") only writes; the stub asks for a seekable file all the same.
    with tarfile.open(fileobj=sealer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        _add(tar, MANIFEST, io.BytesIO(body), len(body), stamp)
        for name, path in files:
            with path.open("rb") as handle:
                _add(tar, name, handle, manifest["members"][name]["size"], stamp)
    sealer.close()
    raw.flush()
    os.fsync(raw.fileno())


def _add(tar: tarfile.TarFile, name: str, handle: IO[bytes], size: int, stamp: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = stamp
    tar.addfile(info, handle)


def make_backup(
    out: Path,
    passphrase: str,
    *,
    force: bool = False,
    include_keys: bool = True,
    using: str = "default",
    chunk_size: int = CHUNK_SIZE,
    kdf_log_n: int = KDF_LOG_N,
) -> BackupSummary:
    """Write an encrypted backup of the database ``using``, of the keys the running settings have
    and of the audit checkpoint files to ``out``: mode 0600, written beside it and renamed into
    place, so that a failure leaves no half-written backup; an existing file only with ``force``."""
    from haven import __version__

    passphrase = check_passphrase(passphrase)
    out = Path(out)
    if out.is_dir():
        raise BackupError(f"{out} is a folder: give the path of the backup file to write")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist")
    if out.exists() and not force:
        raise BackupError(f"{out} already exists: not overwritten (--force replaces it)")
    created = dt.datetime.now(tz=dt.UTC).replace(microsecond=0)
    # The plaintext (database image, keys) waits in a folder only this user can enter (0700).
    with tempfile.TemporaryDirectory(prefix="haven-backup-") as work:
        image, files = _gather(Path(work), using, include_keys)
        manifest = {
            "format": FORMAT,
            "haven_version": __version__,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "database": {"vendor": image.vendor, "server_version": image.server_version},
            "migrations": image.migrations,
            "tables": image.tables,
            "keys": {"included": include_keys, **_running_fingerprints()},
            "members": {name: digest(path) for name, path in files},
        }
        staged = staged_file(out.parent, out.name)
        try:
            with staged.open("wb") as raw:
                sealer = SealedWriter(raw, passphrase, chunk_size=chunk_size, kdf_log_n=kdf_log_n)
                _seal(raw, sealer, manifest, files)
            publish(staged, out, replace=force)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    return BackupSummary(
        path=out,
        size=out.stat().st_size,
        vendor=image.vendor,
        tables=len(image.tables),
        rows=sum(image.tables.values()),
        checkpoint_files=sum(1 for name, _ in files if name.startswith(CHECKPOINTS)),
        keys_included=include_keys,
    )


@dataclass
class RestoreSummary:
    vendor: str
    database: str
    tables: int
    rows: int
    keys_dir: Path
    keys_written: list[str] = field(default_factory=list)
    keys_present: list[str] = field(default_factory=list)
    checkpoints_written: list[Path] = field(default_factory=list)
    checkpoints_kept: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def _unknown_migrations(migrations: Mapping[str, str]) -> list[str]:
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return sorted(f"{app}.{name}" for app, name in migrations.items() if (app, name) not in known)


def _same_keys(name: str, a: str, b: str) -> bool:
    return a.strip() == b.strip() if name == "secret_key" else _key_list(a) == _key_list(b)


def _keys_to_write(unpacked: Unpacked, keys_dir: Path, summary: RestoreSummary) -> dict[str, str]:
    """The key files to write; refuses where ``keys_dir`` holds other keys."""
    if not unpacked.manifest.keys_included:
        needed, have = unpacked.manifest.data["keys"], _running_fingerprints()
        for name in ("encryption_keys", "audit_keys"):
            missing = set(needed.get(name, [])) - set(have[name])
            if missing:
                raise BackupError(
                    f"this backup holds no keys, and {KEY_SETTINGS[name][1]} as configured lacks "
                    f"{len(missing)} of those it was made with: configure the keys of the server that "
                    "made it, then restore. Nothing was changed"
                )
        if needed.get("secret_key") != have["secret_key"]:
            summary.warnings.append(
                "HAVEN_SECRET_KEY is not the one the backup was made with: the references partners "
                "and other centres hold will no longer match"
            )
        return {}
    wanted: dict[str, str] = {}
    for name in KEY_FILES:
        value = unpacked.key(name)
        if value is None:
            raise BackupDamaged(f"the backup lacks keys/{name}")
        file = keys_dir / name
        if file.exists():
            if not _same_keys(name, file.read_text(encoding="utf-8"), value):
                raise BackupError(
                    f"{file} holds other keys than the backup's: not overwritten, and nothing was "
                    "restored. Move it away if nothing else needs it, or give another --keys-dir"
                )
            summary.keys_present.append(name)
        else:
            wanted[name] = value
        if not _same_keys(name, _configured(name), value):
            variable = KEY_SETTINGS[name][1]
            summary.warnings.append(
                f"{variable} as configured now is not the backup's: the restored data needs the "
                f"backup's, in {file} (set {variable}_FILE={file})"
            )
    return wanted


def _starts_with(existing: Path, ours: Path) -> bool:
    with ours.open("rb") as mine, existing.open("rb") as theirs:
        while piece := mine.read(PIECE):
            if theirs.read(len(piece)) != piece:
                return False
    return True


def _checkpoints_to_write(
    unpacked: Unpacked, folder: Path, summary: RestoreSummary
) -> list[tuple[Path, Path]]:
    wanted: list[tuple[Path, Path]] = []
    for member in unpacked.manifest.checkpoint_files:
        ours, existing = unpacked.root / member, folder / Path(member).name
        if not existing.exists():
            wanted.append((ours, existing))
        # Checkpoint files only grow: one that begins with the backup's copy is the same file,
        # kept since -- and the better one, with the checkpoints written after the backup.
        elif _starts_with(existing, ours):
            summary.checkpoints_kept.append(existing)
        else:
            raise BackupError(
                f"{existing} is neither the backup's checkpoint file nor a longer copy of it: not "
                "overwritten, and nothing was restored. Give another --checkpoint-dir"
            )
    return wanted


def restore_unpacked(
    unpacked: Unpacked,
    *,
    database_settings: Mapping[str, Any] | None = None,
    keys_dir: Path | None = None,
    checkpoint_dir: Path | None = None,
) -> RestoreSummary:
    """Restore a checked backup into ``database_settings`` (Django's form; by default the
    configured database), which must be empty; write its keys into ``keys_dir`` (default:
    HAVEN_DATA_DIR, where the embedded default reads them) and its checkpoint files into
    ``checkpoint_dir`` (default: HAVEN_AUDIT_CHECKPOINT_DIR).  Everything is checked before
    anything is written, and a refusal changes nothing."""
    from django.conf import settings

    from haven import __version__

    target = dict(database_settings if database_settings is not None else settings.DATABASES["default"])
    keys_dir = Path(keys_dir if keys_dir is not None else settings.DATA_DIR)
    checkpoint_dir = Path(checkpoint_dir or settings.HAVEN_AUDIT_CHECKPOINT_DIR)
    manifest = unpacked.manifest
    vendor = database.vendor_of(target)
    if vendor != manifest.vendor:
        raise BackupError(
            f"this is a backup of a {manifest.vendor} database and the configured one is {vendor}: "
            "a backup restores into the kind of database it was made from"
        )
    unknown = _unknown_migrations(manifest.migrations)
    if unknown:
        raise BackupError(
            f"the backup was made by Haven {manifest.data.get('haven_version')}, with database "
            f"migrations this Haven ({__version__}) does not have ({', '.join(unknown[:5])}): restore "
            "it with that version or a newer one"
        )
    name = str(target["NAME"]) if vendor == "sqlite" else database.Postgres.from_settings(target).name
    summary = RestoreSummary(vendor, name, len(manifest.tables), manifest.rows, keys_dir)
    keys = _keys_to_write(unpacked, keys_dir, summary)
    checkpoints = _checkpoints_to_write(unpacked, checkpoint_dir, summary)
    database.refuse_unless_empty(target)

    staged: list[tuple[Path, Path]] = []
    try:
        if keys:
            keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for key_file, value in keys.items():
            file = staged_file(keys_dir, key_file)
            file.write_text(value + "\n", encoding="utf-8")
            staged.append((file, keys_dir / key_file))
        if checkpoints:
            checkpoint_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for ours, existing in checkpoints:
            file = staged_file(checkpoint_dir, existing.name)
            shutil.copyfile(ours, file)
            staged.append((file, existing))
        database.restore_database(vendor, unpacked.database_file, target)
    except BaseException:
        for file, _ in staged:
            file.unlink(missing_ok=True)
        raise
    for file, final in staged:
        publish(file, final, replace=False)
    summary.keys_written = list(keys)
    summary.checkpoints_written = [final for _, final in checkpoints]
    tables, migrations = database.state(target)
    for table, rows in manifest.tables.items():
        if tables.get(table) != rows:
            summary.mismatches.append(f"{table}: {tables.get(table)} rows restored, {rows} in the backup")
    if migrations != manifest.migrations:
        summary.mismatches.append("the restored migration state differs from the backup's")
    return summary


def restore_backup(path: Path, passphrase: str, **where: Any) -> RestoreSummary:
    """Decrypt, check and restore ``path``; ``where``: as for :func:`restore_unpacked`."""
    with tempfile.TemporaryDirectory(prefix="haven-restore-") as work:
        unpacked = unpack_backup(Path(path), check_passphrase(passphrase), Path(work))
        return restore_unpacked(unpacked, **where)
