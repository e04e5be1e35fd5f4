"""The production checklist of docs/configuration.md, followed literally, behind a reverse proxy.

The checklist's commands run against a fresh database (PostgreSQL when a server answers, as the
checklist says): `haven createorg`, `haven createuser`, `haven serve --host 127.0.0.1`. Requests
then arrive as a TLS-terminating proxy on 127.0.0.1 sends them, with X-Forwarded-For naming the
client and X-Forwarded-Proto https. Rate limits and lock-outs must key on the real client, cookies
must be Secure, and HSTS must be sent.
"""

from __future__ import annotations

import base64
import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port

from .deploy_support import database as fresh_database

HAVEN = Path(sys.executable).with_name("haven")
HOST = "haven.example.org"
PG_ADMIN = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("checklist")
    secret, keys, audit = home / "secret_key", home / "encryption_keys", home / "audit_keys"
    secret.write_text(secrets.token_urlsafe(50))
    keys.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    audit.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env.update(
        HAVEN_DATA_DIR=str(home / "var"),
        HAVEN_SECRET_KEY_FILE=str(secret),
        HAVEN_ENCRYPTION_KEYS_FILE=str(keys),
        HAVEN_AUDIT_KEYS_FILE=str(audit),
        HAVEN_ALLOWED_HOSTS=HOST,
        HAVEN_CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
        HAVEN_BEHIND_PROXY="true",
        HAVEN_LOG_LEVEL="ERROR",
    )
    databases = fresh_database("haven_proxy")
    database = next(databases)
    if database:
        env["HAVEN_DATABASE_URL"] = database
    port = free_port()

    def run(*args: str, stdin: str | None = None) -> None:
        done = subprocess.run(
            [str(HAVEN), *args], env=env, input=stdin, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr

    # The checklist's commands, in its order: the organisation and its administrator first.
    run("createorg", "seoul", "--name", "Seoul Centre", "--country", "KR", "--time-zone", "Asia/Seoul")
    run(
        "createuser",
        "jiwoo",
        "--org",
        "seoul",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long enough passphrase 42\n",
    )
    log = (home / "serve.log").open("w")
    process = subprocess.Popen(
        [str(HAVEN), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(15)
        log.close()
        next(databases, None)


def _request(
    port: int,
    method: str,
    path: str,
    client: str,
    body: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """A request as the proxy forwards it: from 127.0.0.1, naming the client and the scheme."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {
        "Host": HOST,
        "X-Forwarded-For": client,
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_portals_limit_counts_each_client_and_not_the_proxy(server: int) -> None:
    wrong = {"case_number": "HV-AAAA-BBBB", "pin": "000000"}
    statuses = [_request(server, "POST", "/portal/status/", "203.0.113.7", wrong).status for _ in range(25)]
    assert 429 in statuses, statuses  # the abusive client is slowed down
    # Another survivor, through the same proxy (with her own case number), is not.
    other = {"case_number": "HV-CCCC-DDDD", "pin": "000000"}
    assert _request(server, "POST", "/portal/status/", "198.51.100.20", other).status != 429


def test_cookies_are_secure_and_hsts_is_sent(server: int) -> None:
    response = _request(server, "GET", "/accounts/login/", "198.51.100.30")
    assert response.status == 200
    cookies = response.headers.get_all("Set-Cookie") or []
    assert cookies, "the login page sets its CSRF cookie"
    assert all("Secure" in c for c in cookies), cookies
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_lock_out_keys_on_the_client_not_on_everyone(server: int) -> None:
    def attempt(client: str, password: str) -> http.client.HTTPResponse:
        page = _request(server, "GET", "/accounts/login/", client)
        cookie = (page.headers.get_all("Set-Cookie") or [""])[0].split(";")[0]
        token = cookie.split("=", 1)[1]
        return _request(
            server,
            "POST",
            "/accounts/login/",
            client,
            {"username": "jiwoo", "password": password, "csrfmiddlewaretoken": token},
            {"Cookie": cookie, "Referer": f"https://{HOST}/accounts/login/", "Origin": f"https://{HOST}"},
        )

    for _ in range(6):
        locked = attempt("203.0.113.9", "wrong password")
    assert locked.status in (403, 429), locked.status  # axes: this address, this username
    # Jiwoo, from her own address, still signs in (the password step passes to the second factor).
    mine = attempt("198.51.100.40", "a long enough passphrase 42")
    assert mine.status == 302, mine.status
