"""Taking a consistent image of the database, and putting one into an empty database.

SQLite: the online backup API copies a consistent image while the server goes on writing.
PostgreSQL: ``pg_dump --format=custom`` inside a snapshot exported from a repeatable-read
transaction, which also counts the rows and reads the migration state -- so the manifest describes
exactly what was dumped -- and ``pg_restore --single-transaction`` into an empty database.  Connection
parameters come from Django's settings; the client tools get them (the password included) in their
environment, never on their command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import POSTGRES_MEMBER, SQLITE_MEMBER, publish, staged_file
from .sealed import BackupError

# libpq's connection keywords and the variables its client tools read them from.
_PG_ENV = {
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}
_USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
_PG_TABLES = f"""
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {_USER_SCHEMAS} ORDER BY 1, 2
"""  # noqa: S608 - a constant, no input in it
_PG_OTHER_RELATIONS = f"""
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm', 'S', 'f') AND {_USER_SCHEMAS}
"""  # noqa: S608 - a constant, no input in it

State = tuple[dict[str, int], dict[str, str]]
"""Rows of every table, and the latest applied migration of each app."""


def vendor_of(settings_dict: Mapping[str, Any]) -> str:
    engine = str(settings_dict.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise BackupError(f"Haven backs up SQLite and PostgreSQL databases, not {engine or 'this one'}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_state(db: sqlite3.Connection) -> State:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    # The names come from the database's own catalogue, quoted as identifiers.
    tables = {n: int(db.execute(f"SELECT count(*) FROM {_quote(n)}").fetchone()[0]) for n in names}  # noqa: S608
    migrations: dict[str, str] = {}
    if "django_migrations" in tables:
        for app, name in db.execute("SELECT app, name FROM django_migrations ORDER BY id"):
            migrations[app] = name
    return tables, migrations


@dataclass(frozen=True)
class Postgres:
    """libpq connection parameters (for psycopg, pg_dump and pg_restore) from Django's settings."""

    params: dict[str, str]

    @classmethod
    def from_settings(cls, settings_dict: Mapping[str, Any]) -> Postgres:
        named = (
            ("NAME", "dbname"),
            ("USER", "user"),
            ("PASSWORD", "password"),
            ("HOST", "host"),
            ("PORT", "port"),
        )
        params = {keyword: str(settings_dict[key]) for key, keyword in named if settings_dict.get(key)}
        for key, value in (settings_dict.get("OPTIONS") or {}).items():
            if key in _PG_ENV and key not in params and value not in (None, ""):
                params[key] = str(value)
        return cls(params)

    @property
    def name(self) -> str:
        return self.params.get("dbname", "")

    def env(self) -> dict[str, str]:
        """The client tools' environment: the password travels here, never in their arguments; the
        HAVEN_* variables (keys among them) stay out."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
        env.update({_PG_ENV[k]: v for k, v in self.params.items()})
        return env

    def connect(self, **kwargs: Any) -> Any:
        import psycopg
        from psycopg.conninfo import make_conninfo

        try:
            return psycopg.connect(make_conninfo(**self.params), **kwargs)
        except psycopg.OperationalError as exc:
            raise BackupError(f"cannot connect to the PostgreSQL database {self.name!r}: {exc}") from None


def _pg_state(conn: Any) -> State:
    from psycopg import sql

    schema = conn.execute("SELECT current_schema()").fetchone()[0]
    tables: dict[str, int] = {}
    for space, name in conn.execute(_PG_TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(space), sql.Identifier(name))
        tables[name if space == schema else f"{space}.{name}"] = int(conn.execute(query).fetchone()[0])
    migrations: dict[str, str] = {}
    if "django_migrations" in tables:
        for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY id"):
            migrations[app] = name
    return tables, migrations


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH: install the PostgreSQL client tools of the server's major "
            "version or newer (Debian: apt-get install postgresql-client)"
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    # A fixed argument list and no shell; the password is in env.
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()][-5:]
        raise BackupError(f"{Path(command[0]).name} failed: {'; '.join(lines) or done.returncode}")


@dataclass(frozen=True)
class Snapshot:
    vendor: str
    member: str
    file: Path
    tables: dict[str, int]
    migrations: dict[str, str]
    server_version: str


def snapshot(using: str, into: Path) -> Snapshot:
    """A consistent image of the database ``using`` in the private folder ``into``."""
    from django.db import connections

    connection = connections[using]
    vendor = vendor_of(connection.settings_dict)
    if vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        # Connecting would make an empty database where a mistyped HAVEN_DATA_DIR points.
        if not (name == ":memory:" or name.startswith("file:") or Path(name).is_file()):
            raise BackupError(f"there is no database at {name}: check HAVEN_DATA_DIR (or HAVEN_DATABASE_URL)")
        file = into / "haven.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(file)
        try:
            connection.connection.backup(target)
            check = target.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the database fails SQLite's integrity check: {check}")
            tables, migrations = _sqlite_state(target)
        finally:
            target.close()
        return Snapshot(vendor, SQLITE_MEMBER, file, tables, migrations, sqlite3.sqlite_version)
    import psycopg

    file = into / "haven.pgdump"
    database = Postgres.from_settings(connection.settings_dict)
    pg_dump = _tool("pg_dump")
    with database.connect() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables, migrations = _pg_state(conn)
        version = str(conn.execute("SHOW server_version").fetchone()[0])
        arguments = ["--format=custom", f"--snapshot={exported}", "--no-password", f"--file={file}"]
        _run([pg_dump, *arguments], database.env())
        conn.rollback()
    return Snapshot(vendor, POSTGRES_MEMBER, file, tables, migrations, version)


def state(settings_dict: Mapping[str, Any]) -> State:
    """Rows and migrations of a database as it is now (after a restore: to compare)."""
    if vendor_of(settings_dict) == "sqlite":
        db = sqlite3.connect(Path(settings_dict["NAME"]).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            return _sqlite_state(db)
        finally:
            db.close()
    with Postgres.from_settings(settings_dict).connect() as conn:
        return _pg_state(conn)


def refuse_unless_empty(settings_dict: Mapping[str, Any]) -> None:
    """A restore never mixes a backup with what a database holds already."""
    if vendor_of(settings_dict) == "sqlite":
        name = str(settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise BackupError(f"cannot restore into the in-memory SQLite database {name}")
        for leftover in (Path(f"{name}-wal"), Path(f"{name}-journal")):
            if leftover.exists() and leftover.stat().st_size:
                raise BackupError(
                    f"{leftover} is left from an earlier database, and SQLite would apply it to the "
                    "restored one: nothing was changed. Stop Haven, move it away and try again"
                )
        path = Path(name)
        if not path.exists() or path.stat().st_size == 0:
            return
        try:
            tables, migrations = state(settings_dict)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not an empty SQLite database ({exc}): nothing changed") from None
        others = 0
        where, advice = str(path), "Move the file away (or point HAVEN_DATA_DIR elsewhere) and try again"
    else:
        database = Postgres.from_settings(settings_dict)
        with database.connect() as conn:
            tables, migrations = _pg_state(conn)
            others = int(conn.execute(_PG_OTHER_RELATIONS).fetchone()[0])
        where = f"the PostgreSQL database {database.name!r}"
        advice = "Create a new one (createdb) and point HAVEN_DATABASE_URL at it"
    if tables or others:
        what = f"{len(tables)} tables, {sum(tables.values())} rows"
        if migrations:
            what += ", Haven's migrations applied"
        raise BackupError(
            f"{where} is not empty ({what}): a backup restores only into an empty database, and "
            f"nothing was changed. {advice}"
        )


def restore_database(vendor: str, image: Path, settings_dict: Mapping[str, Any]) -> None:
    """Put the image into the (checked empty) database; on failure it stays as it was."""
    if vendor == "sqlite":
        final = Path(str(settings_dict["NAME"]))
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = staged_file(final.parent, final.name)
        try:
            shutil.copyfile(image, staged)
            with staged.open("rb+") as handle:
                os.fsync(handle.fileno())
            # An empty file may stand there (checked); one that appeared meanwhile is not replaced.
            publish(staged, final, replace=final.exists() and final.stat().st_size == 0)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return
    from psycopg.conninfo import make_conninfo

    database = Postgres.from_settings(settings_dict)
    arguments = [
        "--no-owner",
        "--no-privileges",  # the old server's roles and grants need not exist on this one
        "--exit-on-error",
        "--single-transaction",  # a failure leaves the database as empty as it was
        "--no-password",
        f"--dbname={make_conninfo(dbname=database.name)}",
    ]
    _run([_tool("pg_restore"), *arguments, str(image)], database.env())
