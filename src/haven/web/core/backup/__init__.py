"""Encrypted backups of a Haven server: ``haven backup`` and ``haven restore``.

A backup is one file: a passphrase-sealed stream (:mod:`.sealed`: scrypt, then AES-256-GCM over
1 MiB chunks, STREAM-style nonces) of a tar archive (:mod:`.archive`: a manifest, then the database
image, the key files and the audit checkpoint files).  :mod:`.database` takes a consistent image of
SQLite or PostgreSQL and puts one into an empty database; :mod:`.operations` makes and restores
backups; :mod:`.commands` is what the ``haven`` command calls.  Operators' guide: docs/backup.md.
"""

from .archive import Manifest, Unpacked, unpack_backup, verify_backup
from .commands import KEYS_WARNING, NO_KEYS_WARNING, backup, restore
from .operations import BackupSummary, RestoreSummary, make_backup, restore_backup, restore_unpacked
from .sealed import BackupDamaged, BackupError, WrongPassphrase, check_passphrase

__all__ = [
    "KEYS_WARNING",
    "NO_KEYS_WARNING",
    "BackupDamaged",
    "BackupError",
    "BackupSummary",
    "Manifest",
    "RestoreSummary",
    "Unpacked",
    "WrongPassphrase",
    "backup",
    "check_passphrase",
    "make_backup",
    "restore",
    "restore_backup",
    "restore_unpacked",
    "unpack_backup",
    "verify_backup",
]
