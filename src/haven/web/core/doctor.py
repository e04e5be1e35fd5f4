"""``haven doctor``: check a deployment's settings and surroundings, and name each problem.

Run it as the service runs (same user, same environment file).  Each finding is ``ok``, a
``warning`` (works, but weaker than it should be) or a ``problem`` (unsafe or broken); the
command exits 1 when there is any problem, so it can gate a deployment script.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.conf import settings

Level = Literal["ok", "warning", "problem"]

SECRETS = (
    "HAVEN_SECRET_KEY",
    "HAVEN_ENCRYPTION_KEYS",
    "HAVEN_AUDIT_KEYS",
    "HAVEN_EMAIL_PASSWORD",
    "HAVEN_METRICS_TOKEN",
    "HAVEN_BACKUP_PASSPHRASE",
)
GENERATED = ("secret_key", "encryption_keys", "audit_keys")
"""The key files the embedded default writes into the data directory."""
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@dataclass(frozen=True)
class Finding:
    level: Level
    name: str
    message: str


def ok(name: str, message: str) -> Finding:
    return Finding("ok", name, message)


def warning(name: str, message: str) -> Finding:
    return Finding("warning", name, message)


def problem(name: str, message: str) -> Finding:
    return Finding("problem", name, message)


def debug() -> Iterator[Finding]:
    if settings.DEBUG:
        yield problem("debug", "HAVEN_DEBUG is on: error pages show settings and code to anyone; turn it off")
    else:
        yield ok("debug", "debug pages are off")


def database() -> Iterator[Finding]:
    from django.db import connection

    from . import health

    check = health.database()
    if not check.ok:
        yield problem("database", f"the database does not answer: {check.detail}")
        return
    yield ok("database", check.detail)
    if connection.vendor == "sqlite" and not settings.DEBUG:
        yield warning(
            "database",
            "SQLite is the embedded default for one machine; a centre's production server should use "
            "PostgreSQL (HAVEN_DATABASE_URL)",
        )
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        yield problem(
            "migrations",
            f"{len(pending)} database migration(s) not applied: `haven serve` applies them when it starts",
        )
    else:
        yield ok("migrations", "every migration is applied")


def https() -> Iterator[Finding]:
    if settings.HAVEN_BEHIND_PROXY:
        yield ok("https", "behind a TLS reverse proxy (HAVEN_BEHIND_PROXY)")
    elif settings.SECURE_SSL_REDIRECT:
        yield ok("https", "plain HTTP is redirected to HTTPS")
    else:
        yield problem(
            "https",
            "nothing says this server is reached over HTTPS: serve it behind a TLS reverse proxy and set "
            "HAVEN_BEHIND_PROXY=true (see docs/deployment.md)",
        )
    if settings.SECURE_HSTS_SECONDS <= 0:
        yield warning(
            "https", "HSTS is off (HAVEN_HSTS_SECONDS=0): a browser may be talked down to plain HTTP"
        )
    if not (settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE):
        yield problem(
            "cookies",
            "sign-in cookies are not marked Secure, so a browser would send them over plain HTTP: "
            "unset HAVEN_SECURE_COOKIES",
        )
    else:
        yield ok("cookies", "sign-in cookies are Secure and HttpOnly")


def hosts() -> Iterator[Finding]:
    allowed = set(settings.ALLOWED_HOSTS)
    if "*" in allowed or any(h.startswith("*") for h in allowed):
        yield problem("hosts", "HAVEN_ALLOWED_HOSTS accepts any host name: name the server's own")
    elif allowed <= LOOPBACK:
        yield warning(
            "hosts",
            "HAVEN_ALLOWED_HOSTS names only this machine: set the host name staff and survivors use",
        )
    else:
        yield ok("hosts", "host names: " + ", ".join(sorted(allowed)))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key_file(label: str, path: Path) -> Finding:
    try:
        mode = _mode(path)
    except OSError as exc:
        return problem("keys", f"{label}: cannot read {path}: {exc.strerror}")
    if mode & 0o077:
        return problem(
            "keys",
            f"{label}: {path} can be read by other users (mode {mode:04o}): chmod 600 it, owned by the "
            "service's user",
        )
    return ok("keys", f"{label}: {path} is private (mode {mode:04o})")


def keys() -> Iterator[Finding]:
    for name in SECRETS:
        if os.environ.get(name):
            yield warning(
                "keys",
                f"{name} is given in the environment, where crash reports, `ps e` and child processes can "
                f"see it: put it in a file and set {name}_FILE",
            )
        path = os.environ.get(f"{name}_FILE")
        if path:
            yield _key_file(f"{name}_FILE", Path(path))
    data = Path(settings.DATA_DIR)
    for name in GENERATED:
        if (data / name).exists():
            yield _key_file(f"the generated {name}", data / name)
    if data.exists() and _mode(data) & 0o007:
        yield warning(
            "data", f"the data directory {data} is open to every user (mode {_mode(data):04o}): chmod o-rwx"
        )


def cache() -> Iterator[Finding]:
    from django.core.cache import cache as shared

    backend = settings.CACHES["default"]["BACKEND"]
    if backend in PER_PROCESS_CACHES:
        yield problem(
            "cache",
            f"the cache ({backend}) is per process: the portal's PIN lock-outs and rate limits would not "
            "hold across server processes; use the default database cache or HAVEN_REDIS_URL",
        )
        return
    try:
        shared.set("haven:doctor", "1", 30)
        answered = shared.get("haven:doctor") == "1"
        shared.delete("haven:doctor")
    except Exception as exc:  # a Redis or database error of any kind is the finding
        yield problem("cache", f"the shared cache does not work ({backend}): {exc}")
        return
    if not answered:
        yield problem("cache", f"the shared cache ({backend}) did not keep a value")
    else:
        kind = "Redis" if "redis" in backend else "the database"
        yield ok("cache", f"rate limits and lock-outs are shared through {kind}")


def mail() -> Iterator[Finding]:
    from . import health

    check = health.mail(fresh=True)
    if not check.ok:
        yield problem("mail", check.detail + ": notices cannot be e-mailed")
    elif not check.values.get("smtp"):
        yield warning("mail", check.detail)
    else:
        yield ok("mail", check.detail)
    if settings.DEFAULT_FROM_EMAIL.endswith("@localhost"):
        yield warning(
            "mail",
            f"notices are sent from {settings.DEFAULT_FROM_EMAIL}: platforms drop such mail; "
            "set HAVEN_EMAIL_FROM",
        )


def worker() -> Iterator[Finding]:
    from . import health

    check = health.worker()
    if check.ok:
        yield ok("worker", check.detail)
    else:
        yield problem("worker", check.detail + " (deadlines, rechecks, scans and sharing depend on it)")


def audit() -> Iterator[Finding]:
    where = Path(settings.HAVEN_AUDIT_CHECKPOINT_DIR)
    target = where if where.exists() else where.parent
    if not os.access(target, os.W_OK):
        yield problem("audit", f"audit checkpoints cannot be written to {where}")
    else:
        yield ok("audit", f"audit checkpoints go to {where}")
    if not settings.HAVEN_AUDIT_CHECKPOINT_EMAIL:
        yield warning(
            "audit",
            "audit checkpoints stay on this machine: someone who controls it could rewrite both trail and "
            "checkpoints; set HAVEN_AUDIT_CHECKPOINT_EMAIL to send each one away",
        )


def screenshots() -> Iterator[Finding]:
    if not settings.HAVEN_EVIDENCE_SCREENSHOTS:
        return
    if not os.access(settings.HAVEN_CHROMIUM, os.X_OK):
        yield problem(
            "screenshots",
            f"evidence screenshots are on but {settings.HAVEN_CHROMIUM} is not an executable Chromium "
            "(apt-get install chromium, or set HAVEN_CHROMIUM)",
        )
    else:
        yield ok("screenshots", f"evidence screenshots with {settings.HAVEN_CHROMIUM}")


def metrics() -> Iterator[Finding]:
    token = settings.HAVEN_METRICS_TOKEN
    if token and len(token) < 24:
        yield warning(
            "metrics", "HAVEN_METRICS_TOKEN is short enough to guess: use 32 random characters or more"
        )
    elif token:
        yield ok("metrics", "/metrics answers a scraper with the token")


CHECKS: tuple[Callable[[], Iterator[Finding]], ...] = (
    debug,
    database,
    https,
    hosts,
    keys,
    cache,
    mail,
    worker,
    audit,
    screenshots,
    metrics,
)


def diagnose() -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check())
        except Exception as exc:  # one broken check must not hide the others
            findings.append(problem(check.__name__, f"the check itself failed: {type(exc).__name__}: {exc}"))
    return findings
