from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ2 = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
MD5 = "9e107d9d372bb6826bd81d3542a419d6"
SHA256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """The per-client rate limit and unknown-number lockouts live in the cache."""
    cache.clear()
    yield
    cache.clear()


def item(pdq: str = PDQ, **extra: Any) -> dict[str, Any]:
    return {"pdq": pdq, "quality": 90, "md5": MD5, "sha256": SHA256, **extra}
