from __future__ import annotations

from collections.abc import Iterator

import pytest

from haven.scan import FetchPolicy

from .site import TestSite, serve


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    """One local test site for the whole session; tests put documents under their own paths."""
    yield from serve()


@pytest.fixture
def policy() -> FetchPolicy:
    """Loopback allowed (the test site is on 127.0.0.1) and short timeouts."""
    return FetchPolicy(allow_loopback=True, total_timeout_s=10, read_timeout_s=2, connect_timeout_s=2)
