"""``haven backup`` and ``haven restore``: on whichever database the suite runs on (SQLite, or
PostgreSQL with HAVEN_TEST_DATABASE_URL).

The central test makes real data through Haven's actions, backs it up, restores it with the real
command into an empty database and compares every table row for row; the others try a wrong
passphrase, changed, reordered and cut-short files, non-empty targets, other keys, and the file's
own safety (mode 0600, never half-written, never overwritten by accident).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from haven.cli import build_parser, main
from haven.web.audit import checkpoints
from haven.web.cases import actions
from haven.web.cases.models import Case
from haven.web.core import backup as backups
from haven.web.core import crypto
from haven.web.core.backup import operations, sealed
from haven.web.core.backup.sealed import HEADER_SIZE, SealedReader, SealedWriter
from tests.web.conftest import Persona

PASSPHRASE = "seven plain words make a passphrase"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
CHUNK = 64 * 1024  # small parts, so that even a small database fills several
FAST = {"chunk_size": CHUNK, "kdf_log_n": 12}  # the key derivation's cost is not what these tests test


def _postgres() -> bool:
    return connection.vendor == "postgresql"


# --- an empty database to restore into ------------------------------------------------------------


@dataclass
class Target:
    """An empty database (a fresh SQLite file, or a new PostgreSQL database) and a data folder."""

    settings: dict[str, Any]
    data_dir: Path
    url: str = ""  # HAVEN_DATABASE_URL for a `haven` process (PostgreSQL)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
        env["HAVEN_DATA_DIR"] = str(self.data_dir)
        env["HAVEN_LOG_LEVEL"] = "ERROR"
        if self.url:
            env["HAVEN_DATABASE_URL"] = self.url
        env.update(extra)
        return env

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        if self.url:
            import psycopg

            with psycopg.connect(self.url) as conn:
                yield conn
            return
        with contextlib.closing(sqlite3.connect(self.settings["NAME"])) as db:
            yield db
            db.commit()

    def one(self, query: str, *params: Any) -> Any:
        with self.connect() as db:
            return db.execute(query.replace("?", "%s") if self.url else query, params).fetchone()[0]


def _pg_admin() -> Any:
    import psycopg

    source = connection.settings_dict
    return psycopg.connect(
        host=source["HOST"] or "127.0.0.1",
        port=str(source["PORT"] or 5432),
        user=source["USER"],
        password=source["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Target]:
    data_dir = tmp_path / "restored"
    if not _postgres():
        yield Target(
            {"ENGINE": "django.db.backends.sqlite3", "NAME": str(data_dir / "haven.sqlite3")}, data_dir
        )
        return
    name = f"haven_restore_{secrets.token_hex(4)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    source = connection.settings_dict
    settings_dict = {**source, "NAME": name}
    host, port, user = source["HOST"] or "127.0.0.1", source["PORT"] or 5432, source["USER"]
    password = f":{source['PASSWORD']}" if source["PASSWORD"] else ""
    try:
        yield Target(settings_dict, data_dir, f"postgres://{user}{password}@{host}:{port}/{name}")
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _is_empty(target: Target) -> bool:
    if not target.url:
        path = Path(target.settings["NAME"])
        return not path.exists() or path.stat().st_size == 0
    with target.connect() as conn:
        return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


# --- comparing two databases ----------------------------------------------------------------------


@contextlib.contextmanager
def _source() -> Iterator[Any]:
    """A plain connection to the test database (committed rows: the tests below are transactional)."""
    s = connection.settings_dict
    if _postgres():
        import psycopg

        with psycopg.connect(
            host=s["HOST"],
            port=str(s["PORT"] or 5432),
            user=s["USER"],
            password=s["PASSWORD"] or None,
            dbname=s["NAME"],
        ) as conn:
            yield conn
        return
    with contextlib.closing(sqlite3.connect(s["NAME"], uri=True)) as db:
        yield db


def _contents(db: Any, tables: list[str]) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Each table's columns and rows, in a stable order."""
    found = {}
    for table in tables:
        cursor = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the introspection
        columns = [c[0] for c in cursor.description]
        found[table] = (columns, sorted((tuple(row) for row in cursor.fetchall()), key=repr))
    if _postgres():
        found["(sequences)"] = (
            ["name", "last_value"],
            sorted(
                db.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
            ),
        )
    else:
        found["sqlite_sequence"] = ([], sorted(db.execute("SELECT name, seq FROM sqlite_sequence")))
    return found


def _assert_same_database(target: Target) -> int:
    """Every table of the source (as Django's introspection lists them) holds the same rows in the
    target, and the target has no other tables.  Returns the rows compared."""
    tables = sorted(connection.introspection.table_names())
    assert "cases_case" in tables
    assert "audit_auditevent" in tables
    assert "django_migrations" in tables
    with _source() as source_db, target.connect() as target_db:
        expected, restored = _contents(source_db, tables), _contents(target_db, tables)
        if target.url:
            others = target_db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        else:
            others = target_db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
    assert sorted(row[0] for row in others) == tables
    for table in tables:
        assert restored[table] == expected[table], f"{table} differs after the restore"
    for extra in set(expected) - set(tables):
        assert restored[extra] == expected[extra], extra
    return sum(len(expected[table][1]) for table in tables)


# --- real data --------------------------------------------------------------------------------------


@pytest.fixture
def checkpoint_dir(tmp_path: Path, settings: Any) -> Path:
    folder = tmp_path / "checkpoints"
    settings.HAVEN_AUDIT_CHECKPOINT_DIR = folder
    return folder


@pytest.fixture
def centre(
    case: Case, counsellor: Persona, colleague: Persona, outsider: Persona, checkpoint_dir: Path
) -> Case:
    """Two organisations, their staff and tokens, a case with encrypted contact details and notes,
    consent, hashed content, a follow-up, the audit events of all of it and a signed checkpoint."""
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[
            actions.HashInput(label="photo 1", pdq=PDQ),
            actions.HashInput(label="photo 2", pdq=PDQ[::-1]),
        ],
    )
    actions.add_follow_up(
        actor=counsellor.user,
        case=case,
        due_on=dt.date(2026, 3, 1),
        text="call back about the second site",
        assignee=colleague.user,
    )
    actions.create_case(actor=outsider.user, contact="another centre's survivor", notes="kept apart")
    assert checkpoints.write(force=True) is not None
    return case


def _backup(path: Path, **options: Any) -> backups.BackupSummary:
    return backups.make_backup(path, PASSPHRASE, **{**FAST, **options})


def _haven(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "haven", *args], env=env, capture_output=True, text=True, timeout=300
    )


# --- the round trip ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_an_empty_database_with_every_row_and_key(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    made = backups.make_backup(tmp_path / "centre.haven", PASSPHRASE, chunk_size=CHUNK)
    assert made.keys_included
    assert made.checkpoint_files == 1
    assert made.rows > 0

    # The real command, on a bare machine: no keys configured, an empty database and data folder.
    done = _haven("restore", str(made.path), "--passphrase-file", str(passphrase_file), env=empty.env())
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout

    assert _assert_same_database(empty) == made.rows

    # The keys came back, private, and they open what the backup's database encrypted.
    for name in ("secret_key", "encryption_keys", "audit_keys"):
        assert stat.S_IMODE((empty.data_dir / name).stat().st_mode) == 0o600
    restored_keys = (empty.data_dir / "encryption_keys").read_text().strip().split(",")
    token = empty.one("SELECT contact_encrypted FROM cases_case WHERE number = ?", centre.number)
    with override_settings(HAVEN_ENCRYPTION_KEYS=restored_keys):
        assert crypto.decrypt(bytes(token), "cases.Case.contact") == "010-1234-5678, text only after 6 pm"

    # The restored trail verifies, with the restored keys, against the restored checkpoints.
    env = empty.env()
    if empty.url:  # a PostgreSQL deployment names its key files
        env.update(
            {
                f"HAVEN_{n.upper()}_FILE": str(empty.data_dir / n)
                for n in ("secret_key", "encryption_keys", "audit_keys")
            }
        )
    verified = _haven("audit", "verify", "--checkpoints", str(empty.data_dir / "audit-checkpoints"), env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain intact" in verified.stdout
    assert "audit checkpoints intact: 1 checked" in verified.stdout


@pytest.mark.django_db(transaction=True)
def test_the_manifest_describes_the_database_as_it_was(centre: Case, tmp_path: Path) -> None:
    _backup(tmp_path / "b.haven")
    manifest = backups.verify_backup(tmp_path / "b.haven", PASSPHRASE)
    with connection.cursor() as cursor:
        live = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - names from the introspection
            live[table] = cursor.fetchone()[0]
    assert manifest.tables == live
    assert manifest.tables["cases_case"] == 2
    assert manifest.tables["cases_contentitem"] == 2
    latest = {}
    for app, name in MigrationRecorder.Migration.objects.order_by("id").values_list("app", "name"):
        latest[app] = name
    assert manifest.migrations == latest
    assert manifest.vendor == connection.vendor
    assert set(manifest.members) == {
        "database/haven.pgdump" if _postgres() else "database/haven.sqlite3",
        "keys/secret_key",
        "keys/encryption_keys",
        "keys/audit_keys",
        "audit-checkpoints/checkpoints.jsonl",
    }
    assert all(len(entry["sha256"]) == 64 for entry in manifest.members.values())


@pytest.mark.django_db(transaction=True)
def test_a_backup_without_keys_restores_only_where_the_keys_are_configured(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    made = _backup(tmp_path / "b.haven", include_keys=False)
    assert not made.keys_included
    assert not any(name.startswith("keys/") for name in backups.verify_backup(made.path, PASSPHRASE).members)
    other = base64.urlsafe_b64encode(b"o" * 32).decode()
    with (
        override_settings(HAVEN_ENCRYPTION_KEYS=[other]),
        pytest.raises(backups.BackupError, match="lacks 1"),
    ):
        backups.restore_backup(
            made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
        )
    assert _is_empty(empty)
    done = backups.restore_backup(
        made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
    )
    assert done.keys_written == []
    assert not done.mismatches
    assert not (empty.data_dir / "encryption_keys").exists()
    _assert_same_database(empty)


# --- wrong passphrase, changed or cut-short files: a clear error, and nothing restored ------------


def _parts(data: bytes) -> list[tuple[int, int]]:
    sealed_part = CHUNK + 16
    return [(at, min(at + sealed_part, len(data))) for at in range(HEADER_SIZE, len(data), sealed_part)]


@pytest.mark.django_db(transaction=True)
def test_a_wrong_passphrase_is_refused_and_nothing_is_restored(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    made = _backup(tmp_path / "b.haven")
    with pytest.raises(backups.WrongPassphrase, match="passphrase does not open this backup"):
        backups.restore_backup(
            made.path,
            "another passphrase entirely",
            database_settings=empty.settings,
            keys_dir=empty.data_dir,
        )
    assert _is_empty(empty)
    assert not empty.data_dir.exists() or not any(empty.data_dir.iterdir())


@pytest.mark.django_db(transaction=True)
def test_a_changed_reordered_or_cut_short_backup_is_refused_and_nothing_is_restored(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    made = _backup(tmp_path / "b.haven")
    good = made.path.read_bytes()
    parts = _parts(good)
    assert len(parts) >= 4, "the database should fill several parts"

    def flipped(at: int) -> bytes:
        return good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1 :]

    (a0, a1), (b0, b1) = parts[1], parts[2]
    bad = {
        "the salt": (flipped(20), backups.WrongPassphrase, "does not open"),
        "the header's check": (flipped(HEADER_SIZE - 1), backups.WrongPassphrase, "does not open"),
        "the chunk size": (flipped(29), backups.BackupDamaged, "chunk size Haven never writes"),
        "the format": (good[:8] + b"\x09" + good[9:], backups.BackupDamaged, "format 9"),
        "a byte of part 2": (flipped(a0 + 100), backups.BackupDamaged, "part 2 does not authenticate"),
        "the last byte": (flipped(len(good) - 1), backups.BackupDamaged, "does not authenticate"),
        "parts 2 and 3 swapped": (
            good[:a0] + good[b0:b1] + good[a0:a1] + good[b1:],
            backups.BackupDamaged,
            "part 2",
        ),
        "part 2 twice": (good[:a1] + good[a0:a1] + good[a1:], backups.BackupDamaged, "part 3"),
        "cut after part 3": (good[:b1], backups.BackupDamaged, "cut short"),
        "cut inside part 3": (good[: b0 + 1000], backups.BackupDamaged, "damaged"),
        "cut inside the header": (good[:30], backups.BackupDamaged, "header is incomplete"),
        "only the header": (good[:HEADER_SIZE], backups.BackupDamaged, "nothing follows"),
        "not a backup": (b"SQLite format 3\x00" + good[16:], backups.BackupDamaged, "not a Haven backup"),
    }
    for what, (data, error, message) in bad.items():
        path = tmp_path / "bad.haven"
        path.write_bytes(data)
        with pytest.raises(error, match=message):
            backups.verify_backup(path, PASSPHRASE)
        with pytest.raises(error, match=message):
            backups.restore_backup(
                path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
            )
        assert _is_empty(empty), what
        assert not empty.data_dir.exists() or not any(empty.data_dir.iterdir()), what
    # The unchanged file still restores: what failed above was the damage.
    backups.restore_backup(made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir)
    assert not _is_empty(empty)


# --- restore refuses to mix or overwrite --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restoring_into_a_database_that_holds_data_is_refused_and_changes_nothing(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    made = _backup(tmp_path / "b.haven")
    backups.restore_backup(made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir)
    before = _contents_of(empty)
    with pytest.raises(
        backups.BackupError, match=r"is not empty \(\d+ tables, \d+ rows, Haven's migrations applied\)"
    ):
        backups.restore_backup(
            made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
        )
    assert _contents_of(empty) == before


@pytest.mark.django_db(transaction=True)
def test_a_database_with_any_table_is_not_empty(centre: Case, empty: Target, tmp_path: Path) -> None:
    made = _backup(tmp_path / "b.haven")
    empty.data_dir.mkdir(parents=True, exist_ok=True)
    with empty.connect() as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
    with pytest.raises(backups.BackupError, match=r"is not empty \(1 tables, 0 rows\)"):
        backups.restore_backup(
            made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
        )
    assert not (empty.data_dir / "encryption_keys").exists()


@pytest.mark.django_db(transaction=True)
def test_other_keys_in_the_keys_folder_are_never_overwritten(
    centre: Case, empty: Target, tmp_path: Path
) -> None:
    made = _backup(tmp_path / "b.haven")
    empty.data_dir.mkdir(parents=True)
    theirs = base64.urlsafe_b64encode(b"t" * 32).decode()
    (empty.data_dir / "encryption_keys").write_text(theirs)
    with pytest.raises(backups.BackupError, match="holds other keys than the backup's"):
        backups.restore_backup(
            made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
        )
    assert (empty.data_dir / "encryption_keys").read_text() == theirs
    assert sorted(p.name for p in empty.data_dir.iterdir()) == ["encryption_keys"]
    assert _is_empty(empty)


@pytest.mark.django_db(transaction=True)
def test_checkpoint_files_kept_since_the_backup_are_kept_and_others_refused(
    centre: Case, counsellor: Persona, empty: Target, tmp_path: Path, checkpoint_dir: Path
) -> None:
    made = _backup(tmp_path / "b.haven")
    # Newer checkpoints, written after the backup, sit in the folder a restore writes into.
    actions.create_case(actor=counsellor.user, contact="", notes="")
    assert checkpoints.write() is not None
    newer = (checkpoint_dir / "checkpoints.jsonl").read_bytes()
    done = backups.restore_backup(
        made.path,
        PASSPHRASE,
        database_settings=empty.settings,
        keys_dir=empty.data_dir,
        checkpoint_dir=checkpoint_dir,
    )
    assert done.checkpoints_kept == [checkpoint_dir / "checkpoints.jsonl"]
    assert (checkpoint_dir / "checkpoints.jsonl").read_bytes() == newer

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "checkpoints.jsonl").write_text('{"v": 1, "sequence": 1}\n')
    with pytest.raises(backups.BackupError, match="neither the backup's checkpoint file nor a longer copy"):
        backups.restore_backup(
            made.path,
            PASSPHRASE,
            database_settings=empty.settings,
            keys_dir=empty.data_dir,
            checkpoint_dir=elsewhere,
        )


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_only_into_its_kind_of_database(centre: Case, tmp_path: Path) -> None:
    made = _backup(tmp_path / "b.haven")
    other = (
        {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.sqlite3")}
        if _postgres()
        else {"ENGINE": "django.db.backends.postgresql", "NAME": "never_connected"}
    )
    with pytest.raises(backups.BackupError, match="restores into the kind of database it was made from"):
        backups.restore_backup(made.path, PASSPHRASE, database_settings=other, keys_dir=tmp_path / "keys")
    assert not (tmp_path / "x.sqlite3").exists()
    assert not (tmp_path / "keys").exists()


@pytest.mark.django_db(transaction=True)
def test_a_backup_from_a_newer_haven_is_refused(centre: Case, empty: Target, tmp_path: Path) -> None:
    recorder = MigrationRecorder(connection)
    recorder.record_applied("cases", "9999_from_a_later_version")
    try:
        made = _backup(tmp_path / "b.haven")
    finally:
        recorder.record_unapplied("cases", "9999_from_a_later_version")
    with pytest.raises(backups.BackupError, match=r"migrations this Haven .* does not have \(cases.9999"):
        backups.restore_backup(
            made.path, PASSPHRASE, database_settings=empty.settings, keys_dir=empty.data_dir
        )
    assert _is_empty(empty)


def _contents_of(target: Target) -> Any:
    with target.connect() as db:
        return _contents(db, sorted(connection.introspection.table_names()))


# --- the backup file itself -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_backup_is_private_and_an_existing_file_is_replaced_only_when_asked(
    centre: Case, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    made = _backup(folder / "b.haven")
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    first = made.path.read_bytes()
    assert PASSPHRASE.encode() not in first
    assert b"010-1234-5678" not in first
    assert base64.urlsafe_b64encode(b"k" * 32) not in first  # the test settings' encryption key
    with pytest.raises(backups.BackupError, match="already exists: not overwritten"):
        _backup(made.path)
    assert made.path.read_bytes() == first
    _backup(made.path, force=True)
    assert made.path.read_bytes() != first  # a new salt and nonces: replaced
    assert [p.name for p in folder.iterdir()] == ["b.haven"]


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_writing_leaves_no_half_written_backup(
    centre: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = []

    def fail_on_the_keys(tar: Any, name: str, *args: Any) -> None:
        if name.startswith("keys/"):
            raise OSError(28, "No space left on device")
        written.append(name)
        original(tar, name, *args)

    original = operations._add
    monkeypatch.setattr(operations, "_add", fail_on_the_keys)
    with pytest.raises(OSError, match="No space left"):
        _backup(tmp_path / "b.haven")
    assert written == ["manifest.json", "database/haven.pgdump" if _postgres() else "database/haven.sqlite3"]
    assert list(tmp_path.iterdir()) == [tmp_path / "checkpoints"]


@pytest.mark.parametrize(
    ("text", "message"), [("", "empty"), ("   \n", "empty"), ("eleven char", "at least 12")]
)
def test_an_empty_or_short_passphrase_is_refused(text: str, message: str) -> None:
    with pytest.raises(backups.BackupError, match=message):
        backups.check_passphrase(text)


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_commands_print_a_summary_the_warning_and_clear_errors(
    centre: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out = tmp_path / "b.haven"
    monkeypatch.setenv("HAVEN_BACKUP_PASSPHRASE", PASSPHRASE)
    assert main(["backup", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "tables" in printed
    assert "rows" in printed
    assert "checkpoints: 1 file(s)" in printed
    assert backups.KEYS_WARNING in printed
    assert "lost for good" in printed
    assert "keep the passphrase apart from the file" in printed

    assert main(["backup", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["restore", "--check", str(out)]) == 0
    assert "intact" in capsys.readouterr().out

    monkeypatch.setenv("HAVEN_BACKUP_PASSPHRASE", "not the passphrase at all")
    assert main(["restore", "--check", str(out)]) == 1
    assert "the passphrase does not open this backup" in capsys.readouterr().err

    monkeypatch.delenv("HAVEN_BACKUP_PASSPHRASE")
    assert main(["backup", str(tmp_path / "c.haven")]) == 2
    assert "no passphrase" in capsys.readouterr().err
    short = tmp_path / "short"
    short.write_text("too short\n")
    assert main(["backup", str(tmp_path / "c.haven"), "--passphrase-file", str(short)]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setenv("HAVEN_BACKUP_PASSPHRASE_FILE", str(tmp_path / "missing"))
    assert main(["restore", "--check", str(out)]) == 2
    assert "HAVEN_BACKUP_PASSPHRASE_FILE: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "c.haven").exists()


def test_the_command_line_parses_backup_and_restore() -> None:
    args = build_parser().parse_args(
        ["backup", "/b/x.haven", "--passphrase-file", "p", "--force", "--no-keys"]
    )
    assert (args.out, args.passphrase_file, args.force, args.no_keys) == ("/b/x.haven", "p", True, True)
    args = build_parser().parse_args(
        ["restore", "x.haven", "--check", "--keys-dir", "/k", "--checkpoint-dir", "/c"]
    )
    assert (args.backup, args.check, args.keys_dir, args.checkpoint_dir) == ("x.haven", True, "/k", "/c")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["restore"])


# --- the sealed stream on its own ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 5])
def test_the_sealed_stream_gives_back_exactly_what_was_written(size: int) -> None:
    data = os.urandom(size)
    raw = io.BytesIO()
    writer = SealedWriter(raw, PASSPHRASE, chunk_size=4096, kdf_log_n=10)
    for at in range(0, size, 1000):  # in pieces that do not line up with the chunks
        writer.write(data[at : at + 1000])
    writer.close()
    assert len(raw.getvalue()) == HEADER_SIZE + size + 16 * (max(0, size - 1) // 4096 + 1)
    raw.seek(0)
    reader = SealedReader(raw, PASSPHRASE)
    got = b"".join(iter(lambda: reader.read(777), b""))
    assert got == data
    reader.finish()


def test_the_same_passphrase_typed_another_way_opens_the_backup() -> None:
    import unicodedata

    korean = "한국어로 쓴 긴 비밀 문장입니다"
    raw = io.BytesIO()
    writer = SealedWriter(raw, backups.check_passphrase(unicodedata.normalize("NFD", korean)), kdf_log_n=10)
    writer.write(b"hello")
    writer.close()
    raw.seek(0)
    assert (
        SealedReader(raw, backups.check_passphrase(unicodedata.normalize("NFC", korean))).read() == b"hello"
    )


def test_a_header_asking_for_huge_key_derivation_is_refused_before_deriving() -> None:
    raw = io.BytesIO()
    SealedWriter(raw, PASSPHRASE, kdf_log_n=10).close()
    data = bytearray(raw.getvalue())
    data[10] = 30  # log2 N: 2**30 would need 128 GiB
    with pytest.raises(backups.BackupDamaged, match="key-derivation settings"):
        SealedReader(io.BytesIO(bytes(data)), PASSPHRASE)
    assert sealed.KDF_LOG_N >= 17  # what real backups use


def _crafted(path: Path, members: dict[str, Any], files: list[tuple[str, bytes]]) -> Path:
    """A backup as someone holding the passphrase could make it by hand."""
    import json
    import tarfile

    manifest = {
        "format": 1,
        "haven_version": "0.1.0",
        "created_at": "2026-01-01T00:00:00Z",
        "database": {"vendor": "sqlite"},
        "migrations": {},
        "tables": {},
        "keys": {"included": False},
        "members": members,
    }
    with path.open("wb") as raw:
        writer = SealedWriter(raw, PASSPHRASE, kdf_log_n=10)
        with tarfile.open(fileobj=writer, mode="w|") as tar:  # type: ignore[call-overload]
            for name, data in [("manifest.json", json.dumps(manifest).encode()), *files]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        writer.close()
    return path


@pytest.mark.parametrize(
    ("members", "files", "message"),
    [
        (
            {"database/haven.sqlite3": {"size": 5, "sha256": "0" * 64}},
            [("database/haven.sqlite3", b"hello")],
            "does not match its digest",
        ),
        ({}, [("database/haven.sqlite3", b"hello")], "which its manifest does not list"),
        ({}, [("../outside", b"hello")], "which its manifest does not list"),
        ({"../outside": {"size": 5, "sha256": "0" * 64}}, [("../outside", b"hello")], "manifest is not one"),
        ({"keys/secret_key": {"size": 5, "sha256": "0" * 64}}, [], "lacks what its manifest lists"),
    ],
)
def test_a_backup_whose_parts_do_not_match_its_manifest_is_refused(
    tmp_path: Path, members: dict[str, Any], files: list[tuple[str, bytes]], message: str
) -> None:
    path = _crafted(tmp_path / "crafted.haven", members, files)
    with pytest.raises(backups.BackupDamaged, match=message):
        backups.verify_backup(path, PASSPHRASE)
    into = tmp_path / "work" / "unpacked"
    into.mkdir(parents=True)
    with pytest.raises(backups.BackupDamaged, match=message):
        backups.unpack_backup(path, PASSPHRASE, into)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crafted.haven", "work"]
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["unpacked"]


@pytest.mark.django_db
def test_backing_up_a_database_without_havens_tables_is_refused(empty: Target, tmp_path: Path) -> None:
    keys = {
        "HAVEN_SECRET_KEY": "s" * 50,
        "HAVEN_ENCRYPTION_KEYS": base64.urlsafe_b64encode(b"e" * 32).decode(),
        "HAVEN_AUDIT_KEYS": base64.urlsafe_b64encode(b"a" * 32).decode(),
    }
    done = _haven(
        "backup", str(tmp_path / "b.haven"), env=empty.env(HAVEN_BACKUP_PASSPHRASE=PASSPHRASE, **keys)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "there is no database at" in done.stderr or "holds no Haven tables" in done.stderr
    assert not (tmp_path / "b.haven").exists()
    assert _is_empty(empty)  # not even an empty SQLite file was made
