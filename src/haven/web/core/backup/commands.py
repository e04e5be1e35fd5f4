"""``haven backup`` and ``haven restore``: the passphrase, the messages and the exit statuses."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from .archive import KEY_FILES, Manifest, Unpacked, unpack_backup, verify_backup
from .operations import KEY_SETTINGS, make_backup, restore_unpacked
from .sealed import BackupError, check_passphrase

KEYS_WARNING = (
    "WARNING: this backup holds the keys that decrypt case contact details, notes and takedown "
    "notices, and the keys of the audit trail. Anyone who has the file and its passphrase can read "
    "them: keep the passphrase apart from the file (not on the same disk, not in the same mailbox). "
    "Without these keys -- or without the passphrase that opens this file -- the encrypted fields "
    "of every backup are lost for good, and the audit trail can no longer be verified."
)
NO_KEYS_WARNING = (
    "WARNING: this backup holds no keys (--no-keys): it restores only on a server configured with "
    "the keys this one has now (HAVEN_ENCRYPTION_KEYS, HAVEN_AUDIT_KEYS, HAVEN_SECRET_KEY). Keep them "
    "safe elsewhere: without them the encrypted fields of every backup are lost for good, and the "
    "audit trail can no longer be verified."
)


def read_passphrase(passphrase_file: str | None, *, confirm: bool) -> str:
    """From ``--passphrase-file``, else ``HAVEN_BACKUP_PASSPHRASE`` (or ``..._FILE``), else asked
    for on a terminal (twice when ``confirm``).  Surrounding white space is not part of it."""
    from django.core.exceptions import ImproperlyConfigured

    from haven.web.config.env import env_secret

    if passphrase_file:
        try:
            return check_passphrase(Path(passphrase_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BackupError(f"cannot read the passphrase file {passphrase_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise BackupError(f"the passphrase file {passphrase_file} is not UTF-8 text") from None
    try:
        configured = env_secret("HAVEN_BACKUP_PASSPHRASE")
    except ImproperlyConfigured as exc:
        raise BackupError(str(exc)) from None
    if configured is not None:
        return check_passphrase(configured)
    if not sys.stdin.isatty():
        raise BackupError(
            "no passphrase: give one with --passphrase-file FILE, HAVEN_BACKUP_PASSPHRASE_FILE or "
            "HAVEN_BACKUP_PASSPHRASE"
        )
    import getpass

    first = check_passphrase(getpass.getpass("Backup passphrase: "))
    if confirm and check_passphrase(getpass.getpass("Backup passphrase (again): ")) != first:
        raise BackupError("the passphrases differ")
    return first


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def backup(
    out_path: str,
    *,
    passphrase_file: str | None = None,
    force: bool = False,
    include_keys: bool = True,
    out: TextIO | None = None,
) -> int:
    """``haven backup OUT``: 0 when written, 1 when refused or failed, 2 without a usable passphrase."""
    from haven.web.core.commands import setup

    out = out or sys.stdout
    try:
        passphrase = read_passphrase(passphrase_file, confirm=True)
    except BackupError as exc:
        print(f"haven backup: {exc}", file=sys.stderr)
        return 2
    setup()
    try:
        made = make_backup(Path(out_path), passphrase, force=force, include_keys=include_keys)
    except BackupError as exc:
        print(f"haven backup: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"haven backup: {exc.strerror or exc}: {exc.filename or out_path}", file=sys.stderr)
        return 1
    print(f"wrote {made.path} ({_size(made.size)}, encrypted, mode 0600)", file=out)
    print(f"  database:    {made.vendor}, {made.tables} tables, {made.rows} rows", file=out)
    print(f"  keys:        {'included' if made.keys_included else 'NOT included (--no-keys)'}", file=out)
    print(f"  checkpoints: {made.checkpoint_files} file(s)", file=out)
    print(KEYS_WARNING if made.keys_included else NO_KEYS_WARNING, file=out)
    return 0


def _describe(manifest: Manifest, out: TextIO) -> None:
    data = manifest.data
    print(f"  made:        {data.get('created_at')} by Haven {data.get('haven_version')}", file=out)
    print(
        f"  database:    {manifest.vendor} {data['database'].get('server_version', '')}, "
        f"{len(manifest.tables)} tables, {manifest.rows} rows",
        file=out,
    )
    print(f"  keys:        {'included' if manifest.keys_included else 'not included'}", file=out)
    print(f"  checkpoints: {len(manifest.checkpoint_files)} file(s)", file=out)


def _use_the_backups_keys(unpacked: Unpacked) -> None:
    """Run this process with the backup's keys wherever none are configured.  Haven's settings
    would otherwise make new keys in the data folder (the embedded default) -- just where the
    backup's are to go -- or stop for want of keys (PostgreSQL), and on a bare machine the keys
    are only in the backup."""
    for name in KEY_FILES:
        variable = KEY_SETTINGS[name][1]
        value = unpacked.key(name)
        file = os.environ.get(f"{variable}_FILE")
        if value is None or os.environ.get(variable) or (file and Path(file).is_file()):
            continue
        os.environ.pop(f"{variable}_FILE", None)
        os.environ[variable] = value


def restore(
    in_path: str,
    *,
    passphrase_file: str | None = None,
    keys_dir: str | None = None,
    checkpoint_dir: str | None = None,
    check: bool = False,
    out: TextIO | None = None,
) -> int:
    """``haven restore IN`` (with ``check``: decrypt and verify only, no database needed): 0 when
    done, 1 when refused or the file is not intact, 2 without a usable passphrase."""
    from haven.web.core.commands import setup

    out = out or sys.stdout
    path = Path(in_path)
    try:
        passphrase = read_passphrase(passphrase_file, confirm=False)
    except BackupError as exc:
        print(f"haven restore: {exc}", file=sys.stderr)
        return 2
    if check:
        try:
            manifest = verify_backup(path, passphrase)
        except BackupError as exc:
            print(f"haven restore: {path}: {exc}", file=sys.stderr)
            return 1
        print(f"intact: {path} decrypts, and every part matches its digest", file=out)
        _describe(manifest, out)
        return 0
    with tempfile.TemporaryDirectory(prefix="haven-restore-") as work:
        try:
            unpacked = unpack_backup(path, passphrase, Path(work))
        except BackupError as exc:
            print(f"haven restore: {path}: {exc}", file=sys.stderr)
            return 1
        _use_the_backups_keys(unpacked)
        setup()
        from django.conf import settings

        try:
            done = restore_unpacked(
                unpacked,
                keys_dir=Path(keys_dir) if keys_dir else None,
                checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
            )
        except BackupError as exc:
            print(f"haven restore: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"haven restore: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
            return 1
    manifest = unpacked.manifest
    print(f"restored {path} into {done.vendor} {done.database}", file=out)
    _describe(manifest, out)
    for name in done.keys_written:
        print(f"  wrote {done.keys_dir / name} (mode 0600)", file=out)
    for name in done.keys_present:
        print(f"  {done.keys_dir / name} already holds the backup's keys", file=out)
    for file in done.checkpoints_written:
        print(f"  wrote {file}", file=out)
    for file in done.checkpoints_kept:
        print(f"  kept {file}: it holds the backup's checkpoints (and any written since)", file=out)
    reads_them = settings.EMBEDDED and done.keys_dir.resolve() == Path(settings.DATA_DIR).resolve()
    if manifest.keys_included and not reads_them:
        print("Start Haven with these settings so that it reads the restored keys:", file=out)
        for name in KEY_FILES:
            print(f"  {KEY_SETTINGS[name][1]}_FILE={done.keys_dir / name}", file=out)
    for warning in done.warnings:
        print(f"WARNING: {warning}", file=out)
    if done.mismatches:
        print("haven restore: the restored database does not match the backup:", file=sys.stderr)
        for line in done.mismatches:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
