"""A server process killed with SIGKILL while staff add pictures in bulk: each bulk addition is
whole or absent, nothing acknowledged is lost, the audit trail stays whole, and the process is
replaced while the others go on serving.

``haven serve --workers 2`` on the embedded SQLite database; four clients open cases and add 50
pictures' hashes to each in one request, without pause, while one server process is killed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

from tests.processes import listen_children, staff_token

from .conftest import Answer, Server, base_env, call, haven

CLIENTS = 4
BATCH = 50


def test_a_killed_process_leaves_every_bulk_addition_whole(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    token = staff_token(env)
    server = Server(env, tmp_path / "serve.log", "--workers", "2")
    results: list[tuple[str, Answer]] = []
    stop = threading.Event()

    def client(n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            opened = call(server.port, "POST", "/api/v1/cases", {}, token)
            if opened.status != 201:
                time.sleep(0.05)
                continue
            number = str(opened.json()["number"])  # type: ignore[index]
            items = [{"label": f"p{k}", "pdq": rng.randbytes(32).hex()} for k in range(BATCH)]
            results.append(
                (number, call(server.port, "POST", f"/api/v1/cases/{number}/content", items, token))
            )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        victims = listen_children(server.process.pid)
        assert len(victims) == 2
        victim = min(victims)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while victim in listen_children(server.process.pid) or len(listen_children(server.process.pid)) < 2:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.2)
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert server.stop() == 0, server.log.read_text()
    assert f"server process {victim} stopped" in server.log.read_text()

    added = {number for number, a in results if a.status == 201}
    lost_answers = [number for number, a in results if a.status == 0]
    assert len(added) > 10  # the clients did work on both sides of the kill
    assert all(a.status in (0, 201) for _, a in results), {a.status for _, a in results}
    with sqlite3.connect(tmp_path / "haven.sqlite3") as db:
        counts = dict(
            db.execute(
                "SELECT c.number, COUNT(i.id) FROM cases_case c "
                "LEFT JOIN cases_contentitem i ON i.case_id = c.id GROUP BY c.number"
            ).fetchall()
        )
        events = db.execute(
            "SELECT COUNT(*) FROM audit_auditevent WHERE event_type = 'content.added'"
        ).fetchone()
    # Whole or absent: no case holds part of a batch.
    assert set(counts.values()) <= {0, BATCH}, counts
    # Nothing acknowledged is lost.
    assert all(counts.get(number) == BATCH for number in added)
    # Every whole batch is one that was acknowledged or whose answer died with the process.
    assert {n for n, c in counts.items() if c == BATCH} <= added | set(lost_answers)
    assert events is not None
    # One audit event per whole batch: none for a batch that was rolled back.
    assert events[0] == sum(1 for n in counts.values() if n == BATCH)
    verified = haven(env, "audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
