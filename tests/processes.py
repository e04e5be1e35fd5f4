"""Helpers for tests that run Haven's own processes: a free port, the serving children of
``haven serve --workers``, and a counsellor's API token made with the operator's commands."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

HAVEN = Path(sys.executable).with_name("haven")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listen_children(parent: int) -> set[int]:
    """The serving processes of ``haven serve --workers`` (pid ``parent``), zombies left out."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == parent and stat[0] != "Z" and b"--listen-fd" in cmdline:
            found.add(int(entry.name))
    return found


def staff_token(env: dict[str, str]) -> str:
    """A centre, a counsellor and her API token, through the commands an operator runs."""

    def run(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [str(HAVEN), *args], env=env, input=stdin, capture_output=True, text=True, timeout=180, check=True
        )
        return done.stdout

    run("createorg", "centre", "--name", "Centre", "--country", "KR")
    run("createuser", "jiwoo", "--org", "centre", "--role", "counsellor", "--password-stdin", stdin="p" * 16)
    return run("token", "create", "jiwoo").split()[-1]
