"""Fixtures: a Haven stand-in served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_haven import FakeHaven, start


@pytest.fixture
def haven() -> Iterator[FakeHaven]:
    fake = FakeHaven()
    server = start(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
