"""Hashing files in bulk: one read per file, every signal from it, errors kept per file."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

from PIL import Image

from ._errors import HashingError
from ._hashers import PdqResult, pdq_hash
from ._hashes import Md5, Sha256
from ._image import DEFAULT_LIMITS, Limits, read_file_bytes
from ._robust import Signal, robust_signals_and_pdq


@dataclass(frozen=True, slots=True)
class FileHashes:
    """Every signal of one file."""

    path: str
    pdq: PdqResult
    md5: Md5
    sha256: Sha256
    extra: tuple[Signal, ...] = field(default=())
    """The robust signals beyond the whole-picture PDQ (``robust=True``)."""

    def as_record(self, *, dihedral: bool = False) -> dict[str, Any]:
        """The JSON Lines form written by ``haven hash``."""
        record: dict[str, Any] = {
            "path": self.path,
            "pdq": str(self.pdq.hash),
            "quality": self.pdq.quality,
            "md5": str(self.md5),
            "sha256": str(self.sha256),
        }
        if dihedral:
            record["pdq_dihedral"] = [str(h) for h in self.pdq.dihedral()]
        if self.extra:
            record["extra"] = [{"kind": s.kind, "pdq": str(s.hash)} for s in self.extra]
        return record


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that could not be hashed, and why."""

    path: str
    error: HashingError

    def as_record(self, *, dihedral: bool = False) -> dict[str, Any]:
        return {"path": self.path, "error": str(self.error)}


def hash_file(
    path: str | os.PathLike[str],
    *,
    full_resolution: bool = False,
    robust: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> FileHashes:
    """Read a file once and compute its PDQ hash and digests (and the robust signals)."""
    data = read_file_bytes(path, limits)
    # The digests first: they describe the bytes even when the picture is corrupt,
    # but a file that is not a picture is still an error for this pipeline.
    md5_digest = Md5.of(data)
    sha_digest = Sha256.of(data)
    extra: tuple[Signal, ...] = ()
    if robust and not full_resolution:
        # One decode for both: the robust signals' whole-picture PDQ is this very hash.
        pdq, signals = robust_signals_and_pdq(data, limits=limits)
        extra = tuple(signals[1:])
    else:
        pdq = pdq_hash(data, full_resolution=full_resolution, limits=limits)
        if robust:
            extra = tuple(robust_signals_and_pdq(data, limits=limits)[1][1:])
    return FileHashes(os.fspath(path), pdq, md5_digest, sha_digest, extra)


def _hash_one(path: str, full_resolution: bool, robust: bool, limits: Limits) -> FileHashes | FileError:
    try:
        return hash_file(path, full_resolution=full_resolution, robust=robust, limits=limits)
    except HashingError as exc:
        return FileError(path, exc)


IMAGE_SUFFIXES: Final = frozenset(ext.lower() for ext in Image.registered_extensions())
"""File name endings that folder walks pick up (every format Pillow can open)."""


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Files as given, and the picture files inside folders (recursively, sorted).

    Symbolic links to folders are not followed, so a link loop cannot trap a walk.
    """
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        yield os.path.join(root, name)
        else:
            yield os.fspath(p)


def hash_files(
    paths: Iterable[str],
    *,
    jobs: int = 1,
    full_resolution: bool = False,
    robust: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[FileHashes | FileError]:
    """Hash files in order; a bad file yields a :class:`FileError` and the batch goes on.

    ``jobs`` > 1 spreads the work over that many processes (hashing is CPU-bound,
    so threads would not help).
    """
    work = partial(_hash_one, full_resolution=full_resolution, robust=robust, limits=limits)
    if jobs <= 1:
        yield from map(work, paths)
        return
    path_list = list(paths)
    chunk = max(1, min(16, len(path_list) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(work, path_list, chunksize=chunk)
