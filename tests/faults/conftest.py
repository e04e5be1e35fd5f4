"""What the fault tests share: a Haven server of real processes, a client that never raises, and a
PostgreSQL server of the test's own that it may stop and start (the machine's shared one is left
alone)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import free_port

HAVEN = Path(sys.executable).with_name("haven")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_", "PROMETHEUS_"))}
    env.update(
        HAVEN_DATA_DIR=str(data_dir),
        HAVEN_SECRET_KEY="faults-" + "x" * 50,
        HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(b"f" * 32).decode(),
        HAVEN_AUDIT_KEYS=base64.urlsafe_b64encode(b"g" * 32).decode(),
        HAVEN_LOG_LEVEL="CRITICAL",
    )
    env.update(extra)
    return env


def haven(
    env: dict[str, str], *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HAVEN), *args], env=env, input=stdin, capture_output=True, text=True, timeout=180, check=check
    )


@dataclass
class Answer:
    status: int  # 0: no answer (refused, reset, timed out)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> object:
        return json.loads(self.body)


def call(
    port: int, method: str, path: str, body: object = None, token: str = "", timeout: float = 30
) -> Answer:
    """One request on a connection of its own; a connection that fails is an answer of 0."""
    headers = {"Host": "127.0.0.1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})
    except (OSError, http.client.HTTPException):
        return Answer(0)
    finally:
        conn.close()


class Server:
    """``haven serve`` in its own process group, with a log."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port = free_port()
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(HAVEN), "serve", "--port", str(self.port), *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while call(self.port, "GET", "/healthz").status != 200:
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port, run by the ``postgres`` user
    when this runs as root (PostgreSQL refuses root), that a test may restart at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="haven-faults-pg-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.data.mkdir(mode=0o700)
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            shutil.chown(self.base, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(PG_BIN / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "haven")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/haven"

    def _run(self, *argv: object) -> None:
        subprocess.run([*self.as_user, *map(str, argv)], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.base / "log", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("HAVEN_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_BIN}/initdb is required (HAVEN_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(f"no PostgreSQL server binaries at {PG_BIN}")
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.destroy()
