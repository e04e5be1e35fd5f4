"""Shared test fixtures: where the reference vectors live, and strictness switches for CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _vectors_dir() -> Path:
    override = os.environ.get("HAVEN_VECTORS")
    return Path(override) if override else ROOT.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The reference vectors (../shared/vectors); read in place, never copied into the repo.

    Missing vectors skip the tests that need them on a developer's machine, and fail
    them where HAVEN_TEST_REQUIRE_VECTORS=1 (CI).
    """
    path = _vectors_dir()
    if not (path / "pdq" / "expected.tsv").is_file():
        message = f"reference vectors not found at {path} (set HAVEN_VECTORS)"
        if os.environ.get("HAVEN_TEST_REQUIRE_VECTORS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
