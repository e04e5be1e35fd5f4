"""A fetch from a peer centre killed with SIGKILL half-way through its feed: each page is applied
whole or not at all together with the checkpoint, the next fetch goes on at once from where the
killed one stopped (its claim is not left to go stale for ten minutes), and at the end the
imported bank holds each of the peer's items once.

The peer is a small HTTP server of the test's own that serves its feed page by page, slowly; Haven
runs ``haven peer fetch`` on the embedded SQLite database.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.processes import staff_token

from .conftest import HAVEN, base_env, haven

PAGES = 12
PER_PAGE = 200
ITEMS = PAGES * PER_PAGE


def _ref(prefix: str, n: int) -> str:
    return f"{prefix}-" + base64.b32encode(n.to_bytes(10, "big")).decode().lower()


def _record(n: int) -> dict[str, object]:
    return {
        "id": _ref("hvi", n),
        "case_ref": _ref("hvc", n // 10),
        "status": "active",
        "updated_at": 1764871234 + n,
        "kind": "photo",
        "signals": [{"type": "pdq", "value": f"{n:064x}", "quality": 90, "crop": "whole"}],
    }


class _Feed(BaseHTTPRequestHandler):
    """``/api/sharing/v1/feed?checkpoint=C``: the next page after C, a quarter of a second late."""

    asked: list[int] = []  # the checkpoint of each request, in order

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/api/sharing/v1/feed":
            self.send_error(404)
            return
        after = int(urllib.parse.parse_qs(url.query)["checkpoint"][0])
        type(self).asked.append(after)
        time.sleep(0.25)
        last = min(after + PER_PAGE, ITEMS)
        body = json.dumps(
            {
                "checkpoint": str(last),
                "has_more": last < ITEMS,
                "records": [_record(n) for n in range(after, last)],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the fetch was killed
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def peer_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _state(db_file: Path) -> tuple[int, int, int]:
    """The peer's checkpoint, the imported items, and how many distinct references they have."""
    with contextlib.closing(sqlite3.connect(db_file, timeout=30)) as db:
        checkpoint = db.execute("SELECT checkpoint FROM federation_peer").fetchone()[0]
        items, refs = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT ref) FROM federation_importeditem"
        ).fetchone()
    return int(checkpoint), int(items), int(refs)


def test_a_fetch_killed_half_way_resumes_at_once_and_imports_each_item_once(
    tmp_path: Path, peer_site: str
) -> None:
    env = base_env(tmp_path, HAVEN_PEER_ALLOW_PRIVATE="true")
    staff_token(env)  # the centre, through the operator's commands
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            {
                name: f"{name.replace('_', '-')}-{'k' * 24}"
                for name in ("subscription_key", "fetch_key", "feedback_key", "submit_key")
            }
        )
    )
    haven(env, "peer", "add", "other", "--org", "centre", "--url", peer_site, "--keys", str(keys))
    db_file = tmp_path / "haven.sqlite3"

    fetch = subprocess.Popen(
        [str(HAVEN), "peer", "fetch", "other", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _state(db_file)[0] < 4 * PER_PAGE:
        assert fetch.poll() is None, "the fetch ended before it was killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(fetch.pid, signal.SIGKILL)
    fetch.wait(timeout=30)

    checkpoint, items, refs = _state(db_file)
    assert 4 * PER_PAGE <= checkpoint < ITEMS  # killed half-way
    assert checkpoint % PER_PAGE == 0  # at a page's end: each page whole or absent
    assert items == refs == checkpoint  # and the bank holds exactly what the checkpoint says
    asked_before = len(_Feed.asked)

    resumed = haven(env, "peer", "fetch", "other", "--json", check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    outcome = json.loads(resumed.stdout)
    assert outcome["error"] == ""
    assert not outcome["busy"]
    assert outcome["added"] == ITEMS - checkpoint
    assert outcome["updated"] == 0  # nothing fetched twice was applied twice
    assert _state(db_file) == (ITEMS, ITEMS, ITEMS)
    # It asked for the pages after the checkpoint only.
    assert _Feed.asked[asked_before:] == list(range(checkpoint, ITEMS, PER_PAGE))

    verified = haven(env, "audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
