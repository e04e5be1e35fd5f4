"""The data directory's disk fills up while staff work: each change is refused whole with a JSON
error, no lookup is answered without its audit event, a checkpoint that does not fit leaves the
checkpoint file as it was, and everything works again once there is room.

The data directory is a small tmpfs of its own (mounting needs root); ``haven serve`` runs on the
embedded SQLite database, which lives there, so the database itself runs out of room.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import staff_token

from .conftest import Answer, Server, base_env, call, haven

BATCH = 50
PAGE = 4096


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "data"
    where.mkdir(mode=0o700)
    mount = ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(where)]
    mounted = os.geteuid() == 0 and subprocess.run(mount, check=False).returncode == 0
    if not mounted:
        if os.environ.get("HAVEN_TEST_REQUIRE_MOUNT") == "1":
            pytest.fail("mounting a tmpfs is required (HAVEN_TEST_REQUIRE_MOUNT=1): run as root")
        pytest.skip("a disk that fills up needs a tmpfs of its own: run as root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of ``disk``: whole chunks while they fit, then smaller ones."""
    filler = disk / "filler"
    with filler.open("ab", buffering=0) as out:
        for size in (1 << 20, PAGE, 1):
            while True:
                try:
                    out.write(b"\0" * size)
                except OSError:
                    break
    return filler


def _checkpoint_ending_near_a_page(env: dict[str, str], file: Path) -> None:
    """Write checkpoints until the next one would straddle the end of the file's last page:
    part of it fits in that page, the rest needs a page the full disk will not give."""
    haven(env, "audit", "checkpoint")
    line = len(file.read_bytes().splitlines(keepends=True)[-1])
    for _ in range(64):
        if PAGE - line + 16 < file.stat().st_size % PAGE < PAGE - 16:
            return
        haven(env, "audit", "checkpoint")
    raise AssertionError(f"no checkpoint ended near a page's end (lines of {line} bytes)")


def _lookup(port: int, token: str, rng: random.Random) -> Answer:
    return call(port, "POST", "/api/v1/lookup", {"pdq": [rng.randbytes(32).hex()]}, token)


def _refused_as_json(answer: Answer) -> bool:
    if answer.status != 503:
        return False
    body = answer.json()
    return isinstance(body, dict) and bool(body.get("detail"))


def test_a_full_disk_refuses_changes_whole_and_work_resumes_once_there_is_room(
    small_disk: Path, tmp_path: Path
) -> None:
    checkpoints = small_disk / "audit-checkpoints"
    env = base_env(small_disk, HAVEN_AUDIT_CHECKPOINT_DIR=str(checkpoints))
    token = staff_token(env)
    server = Server(env, tmp_path / "serve.log", "--workers", "1")
    rng = random.Random(7)
    added: dict[str, Answer] = {}
    answered_lookups = 0
    full_answers: list[Answer] = []

    def open_and_add() -> Answer:
        opened = call(server.port, "POST", "/api/v1/cases", {}, token)
        if opened.status != 201:
            return opened
        number = str(opened.json()["number"])  # type: ignore[index]
        items = [{"label": f"p{k}", "pdq": rng.randbytes(32).hex()} for k in range(BATCH)]
        added[number] = call(server.port, "POST", f"/api/v1/cases/{number}/content", items, token)
        return added[number]

    try:
        assert open_and_add().status == 201
        assert _lookup(server.port, token, rng).status == 200
        answered_lookups += 1
        _checkpoint_ending_near_a_page(env, checkpoints / "checkpoints.jsonl")
        before = (checkpoints / "checkpoints.jsonl").read_bytes()

        filler = _fill(small_disk)
        for _ in range(20):
            full_answers.append(open_and_add())
            looked = _lookup(server.port, token, rng)
            full_answers.append(looked)
            answered_lookups += looked.status == 200
        refused = haven(env, "audit", "checkpoint", check=False)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "checkpoint NOT written" in refused.stdout
        assert "No space left on device" in refused.stdout
        assert (checkpoints / "checkpoints.jsonl").read_bytes() == before  # no torn line

        filler.unlink()
        assert open_and_add().status == 201
        assert _lookup(server.port, token, rng).status == 200
        answered_lookups += 1
        haven(env, "audit", "checkpoint")
    finally:
        assert server.stop() == 0, server.log.read_text()

    # The disk was full for real, and every refusal was a JSON 503, never a 500 or a torn answer.
    assert any(_refused_as_json(a) for a in full_answers), {a.status for a in full_answers}
    assert all(a.status in (200, 201) or _refused_as_json(a) for a in full_answers), [
        (a.status, a.body[:200]) for a in full_answers
    ]
    with contextlib.closing(sqlite3.connect(small_disk / "haven.sqlite3")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = dict(
            db.execute(
                "SELECT c.number, COUNT(i.id) FROM cases_case c "
                "LEFT JOIN cases_contentitem i ON i.case_id = c.id GROUP BY c.number"
            ).fetchall()
        )
        lookups = db.execute(
            "SELECT COUNT(*) FROM audit_auditevent WHERE event_type = 'content.lookup'"
        ).fetchone()[0]
        additions = db.execute(
            "SELECT COUNT(*) FROM audit_auditevent WHERE event_type = 'content.added'"
        ).fetchone()[0]
    # Each bulk addition whole or absent, as its answer said; one audit event for each one made.
    for number, answer in added.items():
        assert counts[number] == (BATCH if answer.status == 201 else 0), (number, answer.status)
    assert additions == sum(1 for a in added.values() if a.status == 201)
    # No lookup was answered without its audit event.
    assert lookups == answered_lookups
    verified = haven(env, "audit", "verify", "--checkpoints", str(checkpoints), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
