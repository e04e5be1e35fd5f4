"""``haven serve --workers 2``: two server processes behind one port, sharing one index snapshot,
one set of lock-outs and one set of metrics; a process that dies is replaced; SIGTERM stops all.

Real processes on a free port over a fresh SQLite database, as a service manager would run them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port, listen_children, staff_token

HAVEN = Path(sys.executable).with_name("haven")
TOKEN = "metrics-token-" + "m" * 30
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    data: Path
    env: dict[str, str]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url(path), headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post(self, path: str, data: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url(path), data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def answering_process(self) -> int:
        status, body = self.get("/healthz", TOKEN)
        assert status == 200, body
        return int(json.loads(body)["process"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_", "PROMETHEUS_"))}
    env.update(
        HAVEN_DATA_DIR=str(tmp_path),
        HAVEN_SECRET_KEY="serve-workers-" + "x" * 40,
        HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(b"w" * 32).decode(),
        HAVEN_METRICS_TOKEN=TOKEN,
        HAVEN_REQUIRE_TWO_FACTOR="false",
        HAVEN_LOG_LEVEL="ERROR",
    )
    # A centre, a counsellor and her API token.
    token = staff_token(env)
    env["TEST_API_TOKEN"] = token
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(HAVEN), "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, port, log, tmp_path, env)
    try:
        deadline = time.monotonic() + 120
        while "Haven is running" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        while len(listen_children(process.pid)) < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _api(server: Server, path: str, body: object) -> int:
    headers = {"Authorization": f"Bearer {server.env['TEST_API_TOKEN']}", "Content-Type": "application/json"}
    return server.post(path, json.dumps(body).encode(), headers)


def test_two_processes_share_one_port_one_index_one_lock_out_and_one_set_of_metrics(server: Server) -> None:
    children = listen_children(server.process.pid)
    assert len(children) == 2
    # Both processes accept connections on the one port.
    seen: set[int] = set()
    for _ in range(300):
        seen.add(server.answering_process())
        if seen == children:
            break
    assert seen == children

    # The index was written once, for every process to map.
    assert [p.name for p in (server.data / "index" / "content").iterdir() if p.name.isdigit()]

    # Lookups answered by either process are counted together.
    assert _api(server, "/api/v1/lookup", {"pdq": [PDQ]}) == 200
    for _ in range(19):
        assert _api(server, "/api/v1/lookup", {"pdq": [PDQ]}) == 200
    status, text = server.get("/metrics", TOKEN)
    assert status == 200
    counted = re.search(rb'^haven_lookup_seconds_count\{index="content"\} (\S+)$', text, re.MULTILINE)
    assert counted is not None, text[:2000]
    assert float(counted.group(1)) == 20

    # Wrong PINs for one case number from one network: the lock-out counts them in every process.
    form = urllib.parse.urlencode({"case_number": "HV-ABCD-EFGH", "pin": "12345678"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [server.post("/portal/status/", form, headers) for _ in range(6)]
    assert answers == [403] * 5 + [429]


def test_a_killed_process_is_replaced_and_sigterm_stops_them_all(server: Server) -> None:
    before = listen_children(server.process.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = listen_children(server.process.pid)
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.2)
    assert f"server process {victim} stopped" in server.log.read_text()
    # The new process serves too.
    (replacement,) = now - before
    seen = set()
    while time.monotonic() < deadline and replacement not in seen:
        try:
            seen.add(server.answering_process())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)  # still starting: its socket is shared, its Django not yet loaded
    assert replacement in seen

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0, server.log.read_text()
    assert listen_children(server.process.pid) == set()
    for pid in now:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
        )
