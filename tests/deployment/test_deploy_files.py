"""The files a centre copies from deploy/ (docs/deployment.md), checked without running them:
systemd's own verifier on the units, the container build's packages against Debian 12, the compose
file's wiring, the proxies' limits against Haven's, the PostgreSQL settings against a real server,
and the secrets script. Running them is tests/deployment/test_deploy_run.py.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .deploy_support import (
    DEPLOY,
    DOC,
    HAVEN,
    INSTALLED_HAVEN,
    PG_ADMIN,
    ROOT,
    clean_environ,
    env_file,
    nginx_config,
    proxy_binary,
    service,
    unit_environment,
)

UNITS = [DEPLOY / "systemd" / "haven-web.service", DEPLOY / "systemd" / "haven-worker.service"]
ENV_FILE = DEPLOY / "haven.env"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
COMPOSE = DEPLOY / "container" / "compose.yaml"
NGINX = DEPLOY / "nginx" / "haven.conf"
CADDY = DEPLOY / "caddy" / "Caddyfile"
PG_CONF = DEPLOY / "postgresql" / "haven.conf"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _runnable_copy(unit: Path, directory: Path) -> Path:
    """The unit with its command at this checkout's `haven` (systemd-analyze checks it exists)."""
    copy = directory / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED_HAVEN, str(HAVEN)))
    return copy


def _need_systemd_analyze() -> None:
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.skip("systemd-analyze is not installed")


# --- systemd -----------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_verifies_the_unit_without_a_warning(unit: Path, tmp_path: Path) -> None:
    _need_systemd_analyze()
    copy = _runnable_copy(unit, tmp_path)
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(copy)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    # verify exits 0 on an unknown key or a bad value; it only says so.
    assert done.returncode == 0, done.stderr
    assert not (done.stdout + done.stderr).strip()


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_rates_the_units_exposure_low(unit: Path, tmp_path: Path) -> None:
    _need_systemd_analyze()
    copy = _runnable_copy(unit, tmp_path)
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    # 0 is a locked-down service and 10 an unprotected one; systemd calls up to 3.9 "OK".
    assert float(found.group(1)) <= 3.0, done.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_unit_runs_as_haven_and_can_write_only_the_data_dir(unit: Path) -> None:
    svc = service(unit)
    settings = env_file(ENV_FILE.read_text())
    assert svc["User"] == ["haven"]
    assert svc["Group"] == ["haven"]
    assert svc["EnvironmentFile"] == ["/etc/haven/haven.env"]
    assert svc["Restart"] == ["on-failure"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert svc[key] == [value], key
    writable = [Path(p) for line in svc["ReadWritePaths"] for p in line.split()]
    for name in ("HAVEN_DATA_DIR", "HAVEN_AUDIT_CHECKPOINT_DIR"):
        where = Path(settings[name])
        assert any(where == w or w in where.parents for w in writable), (name, where, writable)
    # Chromium's profile goes to the private /tmp, nowhere that outlives the service.
    env = unit_environment(unit)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        assert Path(env[name]).parts[:2] == ("/", "tmp"), name


def test_the_units_run_what_the_doc_says() -> None:
    web = shlex.split(service(UNITS[0])["ExecStart"][0])
    worker = shlex.split(service(UNITS[1])["ExecStart"][0])
    assert web == [INSTALLED_HAVEN, "serve", "--host", "127.0.0.1", "--port", "8000"]
    assert worker == [INSTALLED_HAVEN, "worker"]


# --- the environment file, read by systemd and by sh (haven-admin) --------------------------------


def test_sh_reads_the_environment_file_as_systemd_does() -> None:
    ours = env_file(ENV_FILE.read_text())
    # Nothing that systemd and sh would read differently: no spaces, quotes, $, ` or backslashes.
    for name, value in ours.items():
        assert not re.search(r"[\s'\"$`\\]", value), name
    done = subprocess.run(
        ["sh", "-c", 'set -a; . "$1"; set +a; env -0', "sh", str(ENV_FILE)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"]},
        check=True,
    )
    from_sh = dict(item.split("=", 1) for item in done.stdout.split("\0") if item)
    assert {k: from_sh.get(k) for k in ours} == ours


def test_the_environment_file_names_only_settings_haven_has() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    names = set(re.findall(r"^#?(HAVEN_[A-Z_]+)=", ENV_FILE.read_text(), re.MULTILINE))
    assert names
    for name in names:
        base = name.removesuffix("_FILE")
        assert f"`{base}`" in documented or f"`{name}`" in documented, name
    settings = env_file(ENV_FILE.read_text())
    assert settings["HAVEN_BEHIND_PROXY"] == "true"
    assert settings["HAVEN_TRUSTED_PROXY"] == "127.0.0.1"  # nginx and Caddy on the same machine
    # Secrets only as files.
    for name in ("HAVEN_SECRET_KEY", "HAVEN_ENCRYPTION_KEYS", "HAVEN_AUDIT_KEYS"):
        assert name not in settings
        assert settings[f"{name}_FILE"].startswith("/etc/haven/secrets/")


# --- the secrets script --------------------------------------------------------------------------


def _owner() -> str:
    return str(os.getuid())


def test_make_secrets_writes_keys_only_the_owner_can_read_and_never_replaces_them(tmp_path: Path) -> None:
    where = tmp_path / "etc" / "haven" / "secrets"
    script = str(DEPLOY / "make-secrets.sh")
    subprocess.run([script, str(where), _owner()], check=True, capture_output=True, timeout=30)
    names = sorted(p.name for p in where.iterdir())
    assert names == ["audit_keys", "encryption_keys", "secret_key"]
    assert stat.S_IMODE(where.stat().st_mode) == 0o700
    # The directories above it stay as usual: the service reads its environment file there.
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(where.parent.stat().st_mode) == 0o777 & ~umask
    for path in where.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for name in ("audit_keys", "encryption_keys"):
        assert len(base64.urlsafe_b64decode((where / name).read_text().strip())) == 32
    assert len((where / "secret_key").read_text().strip()) >= 50
    before = {p.name: p.read_text() for p in where.iterdir()}
    again = subprocess.run([script, str(where), _owner()], check=True, capture_output=True, text=True)
    assert {p.name: p.read_text() for p in where.iterdir()} == before
    assert again.stdout.count("kept") == 3


def test_make_secrets_writes_the_database_password_for_the_containers(tmp_path: Path) -> None:
    where = tmp_path / "secrets"
    subprocess.run(
        [str(DEPLOY / "make-secrets.sh"), str(where), _owner(), "postgres"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    password = (where / "postgres_password").read_text().strip()
    # libpq reads a password file only when no one else may (0600); the postgres image reads its
    # own as another user.
    assert (where / "pgpass").read_text() == f"postgres:5432:haven:haven:{password}\n"
    assert stat.S_IMODE((where / "pgpass").stat().st_mode) == 0o600
    assert stat.S_IMODE((where / "postgres_password").stat().st_mode) == 0o644


# --- the reverse proxies ---------------------------------------------------------------------------


def test_the_proxies_pass_requests_to_the_web_units_address() -> None:
    web = shlex.split(service(UNITS[0])["ExecStart"][0])
    address = f"{web[web.index('--host') + 1]}:{web[web.index('--port') + 1]}"
    assert f"proxy_pass http://{address};" in NGINX.read_text()
    assert f"reverse_proxy {address}" in CADDY.read_text()


def test_the_proxies_body_limit_lets_through_what_haven_accepts_and_no_more() -> None:
    from django.conf import settings

    from haven.web.portal import views as portal
    from haven.web.sharing import api as sharing

    found = re.search(r"\n    client_max_body_size (\d+)m;", NGINX.read_text())
    assert found
    nginx_limit = int(found.group(1)) * 2**20
    found = re.search(r"request_body @other \{\s*max_size (\d+)MiB", CADDY.read_text())
    assert found
    assert int(found.group(1)) * 2**20 == nginx_limit
    haven_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert max(portal.MAX_BODY, sharing.MAX_BODY) <= haven_limit
    # Larger than every limit of Haven's (so its own answer, which says what the limit is, reaches
    # the client), but not by much.
    assert haven_limit < nginx_limit <= 2 * haven_limit
    assert f"client_body_buffer_size {found.group(1)}m;" in NGINX.read_text()


def test_the_nginx_access_log_keeps_no_addresses_no_query_strings_and_no_portal() -> None:
    text = NGINX.read_text()
    found = re.search(r"log_format haven_private '([^']*)';", text)
    assert found
    fields = found.group(1)
    for leak in (
        "$remote_addr",
        "$http_x_forwarded_for",
        "$request ",
        "$request_uri",
        "$args",
        "$query_string",
    ):
        assert leak not in fields + " ", leak
    assert "$uri" in fields  # the path without its query string
    assert re.search(r"map \$uri \$haven_logged \{\s*~\^/portal/\s+0;", text)
    logs = re.findall(r"^\s*access_log (.*);", text, re.MULTILINE)
    assert logs
    for line in logs:
        assert line == "off" or line.endswith("haven_private if=$haven_logged"), line
    assert "log " not in re.sub(r"#.*", "", CADDY.read_text())  # Caddy: no access log at all


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = proxy_binary("nginx", "nginx-light")
    main = nginx_config(tmp_path, upstream_port=8000, http_port=8080, https_port=8443)
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_caddy_accepts_the_caddyfile(tmp_path: Path) -> None:
    caddy = proxy_binary("caddy", "caddy")
    done = subprocess.run(
        [caddy, "validate", "--config", str(CADDY), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean_environ(), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    formatted = subprocess.run([caddy, "fmt", str(CADDY)], capture_output=True, text=True, timeout=30)
    assert formatted.stdout == CADDY.read_text()


# --- PostgreSQL ------------------------------------------------------------------------------------


def _pg_settings() -> dict[str, str]:
    return env_file(re.sub(r"\s*=\s*", "=", re.sub(r"#.*", "", PG_CONF.read_text())))


def test_postgresql_knows_every_setting_and_takes_the_values() -> None:
    try:
        import psycopg

        conn = psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True)
    except Exception as exc:
        if os.environ.get("HAVEN_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (HAVEN_TEST_REQUIRE_POSTGRES=1) but not reachable: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    wanted = _pg_settings()
    assert wanted
    with conn:
        known = {
            name: (context, unit)
            for name, context, unit in conn.execute("SELECT name, context, unit FROM pg_settings").fetchall()
        }
        for name, value in wanted.items():
            assert name in known, name
            context, unit = known[name]
            if context in ("user", "superuser"):
                # Set for this session only: the server's own configuration is left alone.
                conn.execute(f"SET {name} = '{value}'")
                conn.execute(f"RESET {name}")
            elif unit:
                assert re.fullmatch(r"\d+(kB|MB|GB|ms|s|min|h)?", value), (name, value)


def test_the_containers_postgresql_has_the_same_settings() -> None:
    command = _compose()["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    flags = dict(arg.split("=", 1) for flag, arg in zip(command[1::2], command[2::2], strict=True))
    assert all(flag == "-c" for flag in command[1::2])
    assert flags == _pg_settings()


# --- the container image ---------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_is_debian_12_with_haven_from_this_tree_run_by_a_user_who_is_not_root() -> None:
    steps = _dockerfile()
    bases = [args.split()[0] for word, args in steps if word == "FROM"]
    assert bases
    assert set(bases) <= {"debian:12-slim", "python:3.11-slim-bookworm"}, bases
    users = [args for word, args in steps if word == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert re.search(r"pip install [^&]*\"/src", runs)  # the source tree copied from here
    # Every COPY of the build context names something that exists and .dockerignore lets through.
    ignore = (ROOT / ".dockerignore").read_text().split()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for word, args in steps:
        if word == "COPY" and "--from=" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert any(source == a or source.startswith(a + "/") for a in allowed), source
    cmd = [args for word, args in steps if word == "CMD"][-1]
    assert cmd == '["haven", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    health = [args for word, args in steps if word == "HEALTHCHECK"][-1]
    assert "/opt/haven/healthcheck.py" in health
    assert '"/healthz"' in (DEPLOY / "container" / "healthcheck.py").read_text()


def test_the_debian_packages_the_image_installs_exist_in_debian_12() -> None:
    apt_cache = shutil.which("apt-cache")
    if apt_cache is None:
        pytest.skip("apt-cache is not here: not a Debian machine")
    release = Path("/etc/os-release").read_text()
    if "VERSION_CODENAME=bookworm" not in release:
        pytest.skip("this machine is not Debian 12: its package lists say nothing of the image's")
    runs = " ".join(args for word, args in _dockerfile() if word == "RUN")
    packages = set()
    for found in re.finditer(r"apt-get install ((?:-\S+ )*)([^;&|]+)", runs):
        packages |= {p for p in found.group(2).split() if not p.startswith("-")}
    assert {"python3", "python3-venv", "ca-certificates", "postgresql-client", "chromium"} <= packages
    probe = subprocess.run([apt_cache, "show", "python3"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("the package lists are empty here (apt-get update has not run)")
    done = subprocess.run(
        [apt_cache, "show", "--no-all-versions", *sorted(packages)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = set(re.findall(r"^Package: (\S+)$", done.stdout, re.MULTILINE))
    assert packages <= found, (packages - found, done.stderr)


# --- the compose file ----------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_web_and_worker_from_one_image_with_postgresql_15_and_redis_7() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    web, worker = services["web"], services["worker"]
    assert web["image"] == worker["image"]
    assert web["build"] == worker["build"]
    assert (COMPOSE.parent / web["build"]["context"] / web["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert "command" not in web
    assert worker["command"] == ["haven", "worker"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert web["ports"] == ["127.0.0.1:8000:8000"]  # for a proxy on the host, and no one else
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["HAVEN_REDIS_URL"].startswith("redis://redis:")
        assert env["HAVEN_DATABASE_URL"].startswith("postgres://haven@postgres:5432/")
        assert env["HAVEN_BEHIND_PROXY"] == "true"
        assert services[name].get("user") is None  # the image's own user, not root
        assert any(v.endswith(":/var/lib/haven") for v in services[name]["volumes"])
        assert services[name]["read_only"] is True


def test_compose_gives_every_secret_as_a_file_that_make_secrets_writes() -> None:
    compose = _compose()
    files = {name: Path(spec["file"]).name for name, spec in compose["secrets"].items()}
    written = set(re.findall(r"^\s*write (\w+) ", (DEPLOY / "make-secrets.sh").read_text(), re.MULTILINE))
    assert set(files.values()) <= written
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        for key, value in env.items():
            if key.endswith("_FILE") or key == "PGPASSFILE":
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/"), (name, key)
                assert secret in svc["secrets"], (name, key)
                assert secret in files, secret
        for secret in ("HAVEN_SECRET_KEY", "HAVEN_ENCRYPTION_KEYS", "HAVEN_AUDIT_KEYS", "POSTGRES_PASSWORD"):
            assert secret not in env, (name, secret)
        if "HAVEN_DATABASE_URL" in env:
            assert urlsplit(env["HAVEN_DATABASE_URL"]).password is None  # it comes from PGPASSFILE


def test_compose_trusts_the_address_the_hosts_proxy_arrives_from() -> None:
    compose = _compose()
    gateway = compose["networks"]["front"]["ipam"]["config"][0]["gateway"]
    for name in ("web", "worker"):
        assert compose["services"][name]["environment"]["HAVEN_TRUSTED_PROXY"] == gateway
    # The database and the cache sit on a network with no way out and no published port.
    assert compose["networks"]["back"]["internal"] is True
    for name in ("postgres", "redis"):
        assert compose["services"][name]["networks"] == ["back"]
        assert "ports" not in compose["services"][name]


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# --- the doc ------------------------------------------------------------------------------------------


def test_the_doc_points_at_every_file_under_deploy() -> None:
    text = DOC.read_text()
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            assert f"deploy/{path.relative_to(DEPLOY)}" in text, path
    named = set(re.findall(r"\bdeploy/[\w./-]+\w", text))
    for name in named - {"deploy/container/secrets"}:  # made by make-secrets.sh
        assert (ROOT / name).exists(), name


def test_only_the_evidence_upload_gets_a_larger_body_limit_just_above_havens() -> None:
    from haven.web.takedown.actions import UPLOAD_MAX_BYTES

    nginx = NGINX.read_text()
    location = nginx.split("location ~ ^/takedown/sightings/[0-9]+/upload/$ {", 1)[1].split("}", 1)[0]
    limit = re.search(r"client_max_body_size (\d+)m;", location)
    assert limit
    assert UPLOAD_MAX_BYTES < int(limit.group(1)) * 2**20 <= UPLOAD_MAX_BYTES + 2 * 2**20
    assert f"client_body_buffer_size {limit.group(1)}m;" in location  # in memory, never on disk
    caddy = re.search(r"request_body @evidence_upload \{\s*max_size (\d+)MiB", CADDY.read_text())
    assert caddy
    assert caddy.group(1) == limit.group(1)
    assert "@evidence_upload path_regexp ^/takedown/sightings/[0-9]+/upload/$" in CADDY.read_text()
    assert "@other not path_regexp ^/takedown/sightings/[0-9]+/upload/$" in CADDY.read_text()
