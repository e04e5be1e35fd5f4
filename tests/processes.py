"""Helpers for tests that run Haven's own processes: a free port, and the serving children of
``haven serve --workers``."""

from __future__ import annotations

import socket
from pathlib import Path


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
