"""docs/deployment.md, run on this machine: the systemd units' own command lines with their
settings (deploy/haven.env, secrets from deploy/make-secrets.sh), the first-run commands through
deploy/haven-admin, the container's health check, and nginx and Caddy in front with TLS.

What cannot run here is systemd itself (it is not this machine's init): the units' hardening is
checked by systemd-analyze in test_deploy_files.py, not enforced. The database is PostgreSQL when
a server answers (in CI it must), reached over TCP rather than the socket the doc uses.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port

from .deploy_support import (
    DEPLOY,
    HAVEN,
    HOST,
    clean_environ,
    database,
    env_file,
    nginx_config,
    proxy_binary,
    service,
    unit_environment,
    wait_for_port,
)

WEB_UNIT = DEPLOY / "systemd" / "haven-web.service"
WORKER_UNIT = DEPLOY / "systemd" / "haven-worker.service"
PASSWORD = "a long enough passphrase 42"


@dataclass
class Install:
    """One machine's installation as docs/deployment.md lays it out, under a temporary directory."""

    home: Path
    env_path: Path
    data: Path
    database_url: str

    def environment(self, unit: Path) -> dict[str, str]:
        """What systemd gives the unit's process: a plain PATH, HOME, the environment file, then
        the unit's Environment= lines."""
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.data)}
        env.update(env_file(self.env_path.read_text()))
        for name, value in unit_environment(unit).items():
            # The unit's private /tmp, here a directory of this installation's own.
            env[name] = value.replace("/tmp/", f"{self.home}/tmp/")  # noqa: S108
        return env

    def command(self, unit: Path, port: int | None = None) -> list[str]:
        """The unit's ExecStart, with this checkout's `haven` and, for the web unit, a free port."""
        argv = shlex.split(service(unit)["ExecStart"][0])
        argv[0] = str(HAVEN)
        if port is not None:
            argv[argv.index("--port") + 1] = str(port)
        return argv


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    home = tmp_path_factory.mktemp("deploy")
    (home / "tmp").mkdir()
    data = home / "var-lib-haven"
    data.mkdir(mode=0o700)
    subprocess.run(
        [str(DEPLOY / "make-secrets.sh"), str(home / "secrets"), str(os.getuid())],
        check=True,
        capture_output=True,
        timeout=30,
    )
    databases = database()
    url = next(databases)
    text = (
        (DEPLOY / "haven.env")
        .read_text()
        .replace("/etc/haven/secrets/", f"{home}/secrets/")
        .replace("/var/lib/haven", str(data))
    )
    text, count = re.subn(
        r"^HAVEN_DATABASE_URL=.*$", f"HAVEN_DATABASE_URL={url}" if url else "", text, flags=re.M
    )
    assert count == 1
    env_path = home / "haven.env"
    env_path.write_text(text)
    yield Install(home, env_path, data, url)
    next(databases, None)


def _haven_admin(install: Install, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **clean_environ(),
        "HAVEN_ENV_FILE": str(install.env_path),
        "HAVEN_COMMAND": str(HAVEN),
        "HAVEN_USER": "root",
    }
    return subprocess.run(
        [str(DEPLOY / "haven-admin"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass
class Web:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def web(install: Install) -> Iterator[Web]:
    """haven-web.service's command with its settings, from / as systemd starts it."""
    port = free_port()
    log_path = install.home / "haven-web.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            install.command(WEB_UNIT, port),
            env=install.environment(WEB_UNIT),
            cwd="/",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log_path)
        yield Web(port, process, log_path)
    finally:
        # systemctl stop: SIGTERM, which systemd counts as a clean stop.
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code in (0, -signal.SIGTERM), log_path.read_text()


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": HOST, **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, _headers(response), body


def _headers(response: http.client.HTTPResponse) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in response.getheaders():
        out.setdefault(name.lower(), []).append(value)
    return out


# --- the first-run commands and the web unit ---------------------------------------------------


def test_haven_admin_runs_the_first_run_commands_with_the_services_settings(install: Install) -> None:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("haven-admin runs commands through runuser, which needs root")
    made = _haven_admin(install, "createorg", "seoul", "--name", "Seoul Centre", "--country", "KR")
    assert made.returncode == 0, made.stderr
    user = _haven_admin(
        install,
        "createuser",
        "jiwoo",
        "--org",
        "seoul",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert user.returncode == 0, user.stderr
    again = _haven_admin(install, "createorg", "seoul", "--name", "Seoul Centre", "--country", "KR")
    assert again.returncode != 0  # the same database: the organisation is there already


def test_the_web_unit_serves_the_app_behind_the_proxy(web: Web) -> None:
    status, headers, _ = _get(web.port, "/accounts/login/", {"X-Forwarded-Proto": "https"})
    assert status == 200
    cookies = headers.get("set-cookie", [])
    assert cookies
    assert all("Secure" in c for c in cookies), cookies
    assert headers["strict-transport-security"][0].startswith("max-age=31536000")
    assert "Haven is running at http://127.0.0.1:" in web.log.read_text()


def test_the_web_unit_answers_the_health_check(web: Web) -> None:
    status, _, body = _get(web.port, "/healthz")
    assert status == 200, body
    assert json.loads(body)["status"] in ("ok", "degraded")


def test_the_containers_health_check_reports_the_server(install: Install, web: Web) -> None:
    script = DEPLOY / "container" / "healthcheck.py"
    hosts = env_file(install.env_path.read_text())["HAVEN_ALLOWED_HOSTS"]

    def check(port: int, allowed: str | None) -> int:
        env = {**clean_environ(), "HAVEN_HEALTHCHECK_PORT": str(port)}
        if allowed is not None:
            env["HAVEN_ALLOWED_HOSTS"] = allowed
        return subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, timeout=30
        ).returncode

    assert check(web.port, hosts) == 0
    assert check(free_port(), hosts) == 1  # nothing listening
    # Haven refuses a name it does not serve: that is why the check names the first allowed host.
    assert check(web.port, None) == 1


def test_the_worker_unit_runs_its_jobs_and_stops_when_told(install: Install, web: Web) -> None:
    log_path = install.home / "haven-worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            install.command(WORKER_UNIT),
            env=install.environment(WORKER_UNIT),
            cwd="/",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        done: set[str] = set()
        while time.monotonic() < deadline and not {"takedown", "monitoring", "sharing"} <= done:
            assert worker.poll() is None, log_path.read_text()
            done = {path.split(".")[2] for path in _successful_tasks(install)}
            time.sleep(0.3)
        assert {"takedown", "monitoring", "sharing"} <= done, (done, log_path.read_text())
    finally:
        worker.send_signal(signal.SIGTERM)  # systemctl stop: the worker finishes its job and leaves
        code = worker.wait(timeout=60)
    assert code == 0, log_path.read_text()


def _successful_tasks(install: Install) -> list[str]:
    query = "SELECT task_path FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'"
    if install.database_url:
        import psycopg

        with psycopg.connect(install.database_url, connect_timeout=3) as conn:
            return [row[0] for row in conn.execute(query)]
    with sqlite3.connect(install.data / "haven.sqlite3") as db:
        return [row[0] for row in db.execute(query)]


# --- behind nginx and Caddy ------------------------------------------------------------------------


@dataclass
class Proxy:
    name: str
    https_port: int
    http_port: int
    cafile: Path
    directory: Path


def _https(
    proxy: Proxy, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], bytes]:
    """A browser's request to https://haven.example.org through the proxy (TLS verified)."""
    context = ssl.create_default_context(cafile=str(proxy.cafile))
    conn = http.client.HTTPConnection(HOST, proxy.https_port, timeout=30)
    conn.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", proxy.https_port), timeout=30), server_hostname=HOST
    )
    conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, _headers(response), data


@pytest.fixture(scope="module")
def nginx(web: Web, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    binary = proxy_binary("nginx", "nginx-light")
    directory = tmp_path_factory.mktemp("nginx")
    http_port, https_port = free_port(), free_port()
    main = nginx_config(directory, upstream_port=web.port, http_port=http_port, https_port=https_port)
    log_path = directory / "nginx.out"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, "-p", str(directory), "-c", str(main), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(https_port, process, log_path, seconds=30)
        yield Proxy("nginx", https_port, http_port, directory / "fullchain.pem", directory)
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def caddy(web: Web, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    binary = proxy_binary("caddy", "caddy")
    directory = tmp_path_factory.mktemp("caddy")
    http_port, https_port = free_port(), free_port()
    # The Caddyfile as shipped, with its own local certificate authority instead of Let's Encrypt.
    site = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8000" in site
    site = site.replace("reverse_proxy 127.0.0.1:8000", f"reverse_proxy 127.0.0.1:{web.port}")
    config = directory / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n"
        f"\thttp_port {http_port}\n\thttps_port {https_port}\n\tdefault_bind 127.0.0.1\n}}\n\n{site}"
    )
    env = {**clean_environ(), "HOME": str(directory), "XDG_DATA_HOME": str(directory / "data")}
    env["XDG_CONFIG_HOME"] = str(directory / "config")
    log_path = directory / "caddy.out"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(https_port, process, log_path, seconds=30)
        proxy = Proxy(
            "caddy",
            https_port,
            http_port,
            directory / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt",
            directory,
        )
        # Caddy makes its certificate just after it starts listening.
        deadline = time.monotonic() + 30
        while True:
            try:
                _https(proxy, "GET", "/accounts/login/")
                break
            except (OSError, ssl.SSLError):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        yield proxy
    finally:
        process.terminate()
        process.wait(timeout=15)


PROXIES = ["nginx", "caddy"]


@pytest.fixture(params=PROXIES)
def proxy(request: pytest.FixtureRequest) -> Proxy:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_through_the_proxy_https_is_recognised(proxy: Proxy) -> None:
    status, headers, _ = _https(proxy, "GET", "/accounts/login/")
    assert status == 200
    cookies = headers.get("set-cookie", [])
    assert cookies
    assert all("Secure" in c for c in cookies), cookies
    assert headers["strict-transport-security"][0].startswith("max-age=31536000")


def test_through_the_proxy_a_forged_x_forwarded_for_does_not_escape_a_lock_out(
    proxy: Proxy, request: pytest.FixtureRequest
) -> None:
    """Each attempt claims another address; Haven must count them all against the one real client."""
    username = f"probe-{request.node.callspec.id}"
    statuses = []
    for n in range(7):
        status, headers, _ = _https(proxy, "GET", "/accounts/login/")
        cookie = headers["set-cookie"][0].split(";")[0]
        form = {"username": username, "password": "wrong", "csrfmiddlewaretoken": cookie.split("=", 1)[1]}
        status, _, _ = _https(
            proxy,
            "POST",
            "/accounts/login/",
            urllib.parse.urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                "Origin": f"https://{HOST}",
                "Referer": f"https://{HOST}/accounts/login/",
                "X-Forwarded-For": f"198.51.100.{n + 1}",
                "X-Forwarded-Proto": "https",
            },
        )
        statuses.append(status)
    assert statuses[0] == 200, statuses  # the form again, with "wrong password"
    assert statuses[-1] in (403, 429), statuses  # locked: every attempt came from this machine


def test_through_the_proxy_bodies_over_havens_limit_get_havens_answer_and_larger_ones_stop(
    proxy: Proxy,
) -> None:
    headers = {"Content-Type": "application/json"}
    # Over the portal's 2 MiB and within the proxy's limit: Haven's own answer, in JSON.
    status, _, body = _https(
        proxy, "POST", "/portal/api/submit/", b"[" + b" " * (2 * 2**20 + 10) + b"]", headers
    )
    assert status == 413, body[:200]
    assert "error" in json.loads(body)
    # Over the proxy's limit: refused there. Caddy 2.6 (Debian 12's) says 502 where nginx says 413.
    status, _, body = _https(proxy, "POST", "/portal/api/submit/", b" " * (4 * 2**20), headers)
    assert status in ((413, 502) if proxy.name == "caddy" else (413,)), status
    assert not body.startswith(b"{"), body[:200]


def test_through_the_proxy_an_evidence_upload_may_be_larger(proxy: Proxy) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    # 5 MiB to the evidence upload reaches Haven (which asks for a signed-in officer); the same
    # anywhere else is stopped at the proxy.
    status, _, body = _https(proxy, "POST", "/takedown/sightings/1/upload/", b" " * (5 * 2**20), headers)
    assert status in (302, 403), (status, body[:200])
    status, _, _body = _https(proxy, "POST", "/takedown/sightings/1/act/", b" " * (5 * 2**20), headers)
    assert status in ((413, 502) if proxy.name == "caddy" else (413,)), status


def test_nginx_sends_plain_http_to_https(nginx: Proxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", nginx.http_port, timeout=30)
    conn.request("GET", "/portal/?lang=ko", headers={"Host": HOST})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/portal/?lang=ko"


def test_nginxs_access_log_keeps_no_address_no_query_string_and_no_portal_visit(nginx: Proxy) -> None:
    _https(nginx, "GET", "/portal/status/?case_number=HV-SECRET-CASE")
    _https(nginx, "GET", "/portal/")
    _https(nginx, "GET", "/accounts/login/?next=/cases/HV-SECRET-NEXT/")
    log = (nginx.directory / "haven-access.log").read_text()
    assert "GET /accounts/login/ 200" in log, log
    for secret in ("SECRET", "/portal/", "127.0.0.1"):
        assert secret not in log, log
    # The main configuration's catch-all log (Debian's default) got none of it.
    main = nginx.directory / "main-access.log"
    assert not main.exists() or "HV-SECRET" not in main.read_text()
