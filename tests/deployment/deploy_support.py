"""Reading the files under deploy/ the way systemd, sh and a centre's administrator read them,
for the tests of docs/deployment.md."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOC = ROOT / "docs" / "deployment.md"
HAVEN = Path(sys.executable).with_name("haven")
INSTALLED_HAVEN = "/opt/haven/venv/bin/haven"  # where docs/deployment.md installs the command
HOST = "haven.example.org"  # the host name the files under deploy/ are written for
PG_ADMIN = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")


def unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections, each a list of (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path}: {raw!r} before the first section"
        assert not line.endswith("\\"), f"{path}: continued lines are not read here: {raw!r}"
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def service(path: Path) -> dict[str, list[str]]:
    """The [Service] section as key -> every value given for it."""
    values: dict[str, list[str]] = {}
    for key, value in unit(path)["Service"]:
        values.setdefault(key, []).append(value)
    return values


def unit_environment(path: Path) -> dict[str, str]:
    """What the unit's Environment= lines set (each line holds one or more NAME=value words)."""
    env: dict[str, str] = {}
    for line in service(path).get("Environment", []):
        for word in shlex.split(line):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def env_file(text: str) -> dict[str, str]:
    """An EnvironmentFile= as systemd reads the plain NAME=value lines the deploy files use."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=value: {raw!r}"
        env[name.strip()] = value.strip()
    return env


def clean_environ() -> dict[str, str]:
    """This process's environment without the test suite's own Haven and Django settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 180) -> None:
    """Wait until ``process`` listens on 127.0.0.1:``port``; fail with its log if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with status {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds} s:\n{log.read_text()}")


def database(prefix: str = "haven_deploy") -> Iterator[str]:
    """A fresh PostgreSQL database (its URL), or "" for SQLite where no server answers; dropped after."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as conn:
            name = f"{prefix}_{secrets.token_hex(4)}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if os.environ.get("HAVEN_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (HAVEN_TEST_REQUIRE_POSTGRES=1) but not reachable: {exc}")
        yield ""
        return
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for HOST and its key, as files (what certbot would have put in place)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def nginx_config(directory: Path, *, upstream_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx/haven.conf as it runs on this machine (ports, certificate, log directory, the
    upstream's port changed; IPv6 listeners left out), inside a main configuration like Debian's,
    whose http block logs every request in full unless a site says otherwise."""
    cert, key = self_signed_certificate(directory)
    (directory / "www").mkdir(exist_ok=True)
    site = (DEPLOY / "nginx" / "haven.conf").read_text()
    for old, new in {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        f"/etc/letsencrypt/live/{HOST}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{HOST}/privkey.pem": str(key),
        "/var/log/nginx/": f"{directory}/",
        "root /var/www/html;": f"root {directory}/www;",
        "proxy_pass http://127.0.0.1:8000;": f"proxy_pass http://127.0.0.1:{upstream_port};",
    }.items():
        assert old in site, old
        site = site.replace(old, new)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    (directory / "haven.conf").write_text(site)
    main = directory / "nginx.conf"
    # As root, nginx's workers would run as nobody and could not use this test's private directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main.write_text(
        f"{user}worker_processes 1;\n"
        f"pid {directory}/nginx.pid;\n"
        f"error_log {directory}/main-error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    client_body_temp_path {directory}/client_body;\n"
        f"    proxy_temp_path {directory}/proxy;\n"
        f"    access_log {directory}/main-access.log;\n"
        f"    include {directory}/haven.conf;\n"
        "}\n"
    )
    return main


def proxy_binary(name: str, package: str) -> str:
    """The path of the nginx or Caddy binary; without it the test is skipped, or fails where CI
    installs them (HAVEN_TEST_REQUIRE_PROXIES=1)."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("HAVEN_TEST_REQUIRE_PROXIES") == "1":
            pytest.fail(f"{message}; it is required (HAVEN_TEST_REQUIRE_PROXIES=1)")
        pytest.skip(message)
    return found
