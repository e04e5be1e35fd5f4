"""A matching index written once to disk and memory-mapped, read-only, by every server process.

Several server processes (``haven serve --workers N``) would each hold their own copy of the
index: about 1 GB at 10 million hashes, N times over.  Instead ``haven index snapshot`` writes the
index as it stands at one change-log version into a directory of plain arrays; each process maps
those files (the operating system keeps one copy of their pages for all of them) and keeps in
its own memory only the items changed since, replayed from the change log.  A changed item's
entries in the snapshot are masked by the process, never rewritten.

Layout of ``<HAVEN_INDEX_DIR>/<index name>/<version>/``: ``meta.json``; ``items.npy`` (item ids,
ascending) and ``orgs.npy`` (each item's organisation); ``pdq.hidx`` (a
:class:`~haven.signals.HammingIndex` file keyed by item id); ``frames.hidx`` and ``frame_item.npy``
(video frames, keyed by row); ``extra.hidx``, ``extra_item.npy`` and ``extra_kind.npy`` (robust crop
signals, keyed by row; kinds named in ``meta.json``); ``md5.npy``/``md5_item.npy`` and
``sha256.npy``/``sha256_item.npy`` (digests, sorted, with their items).  A snapshot is written under a
temporary name and renamed into place, so a reader sees a whole one or none.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from haven.signals import HammingIndex, IndexFileError, Md5, PdqHash, Sha256

log = logging.getLogger(__name__)

FORMAT = 1
KEEP = 2
"""Snapshots kept per index: the newest, and the one before for processes still switching."""


class SnapshotError(ValueError):
    """A snapshot directory that is incomplete, damaged or of another format; it is not used."""


def root() -> Path:
    return Path(settings.HAVEN_INDEX_DIR)


def _dirs(name: str) -> list[Path]:
    where = root() / name
    if not where.is_dir():
        return []
    return sorted((p for p in where.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def latest_version(name: str) -> int | None:
    found = _dirs(name)
    return int(found[-1].name) if found else None


@dataclass(frozen=True)
class Entry:
    """One item as a snapshot takes it (what :class:`~haven.web.cases.matching.SignalIndex` puts)."""

    item_id: int
    organisation_id: int
    pdq: PdqHash | None
    md5: Md5 | None
    sha256: Sha256 | None
    frames: Sequence[PdqHash]
    extra: Sequence[tuple[str, PdqHash]]


def write(name: str, version: int, seen: Iterable[int], entries: Iterable[Entry]) -> Path:
    """Write a snapshot of ``entries`` at change-log ``version`` (``seen``: the versions of the trailing
    window it reflects) and return its directory; older snapshots beyond :data:`KEEP` are removed."""
    items: list[int] = []
    orgs: list[int] = []
    pdq_ids: list[int] = []
    pdq: list[PdqHash] = []
    frame_item: list[int] = []
    frames: list[PdqHash] = []
    extra_item: list[int] = []
    extra_kind: list[int] = []
    extra: list[PdqHash] = []
    kinds: dict[str, int] = {}
    md5: list[tuple[bytes, int]] = []
    sha256: list[tuple[bytes, int]] = []
    for e in entries:
        items.append(e.item_id)
        orgs.append(e.organisation_id)
        if e.pdq is not None:
            pdq_ids.append(e.item_id)
            pdq.append(e.pdq)
        for h in e.frames:
            frame_item.append(e.item_id)
            frames.append(h)
        for kind, h in e.extra:
            extra_item.append(e.item_id)
            extra_kind.append(kinds.setdefault(kind, len(kinds)))
            extra.append(h)
        if e.md5 is not None:
            md5.append((e.md5.digest, e.item_id))
        if e.sha256 is not None:
            sha256.append((e.sha256.digest, e.item_id))

    where = root() / name
    where.mkdir(parents=True, exist_ok=True)
    final = where / f"{version:015d}"
    if final.exists():
        return final
    tmp = where / f".building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        order = np.argsort(np.array(items, dtype=np.int64), kind="stable")
        np.save(tmp / "items.npy", np.array(items, dtype=np.int64)[order])
        np.save(tmp / "orgs.npy", np.array(orgs, dtype=np.int64)[order])
        _hamming(pdq_ids, pdq).save(tmp / "pdq.hidx")
        _hamming(list(range(len(frames))), frames).save(tmp / "frames.hidx")
        np.save(tmp / "frame_item.npy", np.array(frame_item, dtype=np.int64))
        _hamming(list(range(len(extra))), extra).save(tmp / "extra.hidx")
        np.save(tmp / "extra_item.npy", np.array(extra_item, dtype=np.int64))
        np.save(tmp / "extra_kind.npy", np.array(extra_kind, dtype=np.uint8))
        for label, pairs, width in (("md5", md5, 16), ("sha256", sha256, 32)):
            pairs.sort()
            np.save(tmp / f"{label}.npy", np.array([d for d, _ in pairs], dtype=f"S{width}"))
            np.save(tmp / f"{label}_item.npy", np.array([i for _, i in pairs], dtype=np.int64))
        meta = {
            "format": FORMAT,
            "name": name,
            "version": version,
            "seen": sorted(set(seen)),
            "items": len(items),
            "kinds": list(kinds),
            "created_at": timezone.now().isoformat(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in _dirs(name)[:-KEEP]:
        # A process that still maps an old snapshot keeps reading it: removing a mapped file
        # leaves its pages until the last mapping goes.
        shutil.rmtree(old, ignore_errors=True)
    return final


def _hamming(ids: list[int], hashes: list[PdqHash]) -> HammingIndex:
    index = HammingIndex()
    if ids:
        index.add_many(ids, hashes)
        index.compact()  # one main segment: the fastest to query, and the whole file is its tables
    return index


class Snapshot:
    """An open snapshot: the same questions as the in-memory index, answered from mapped files."""

    def __init__(self, path: Path) -> None:
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"{path}: no readable meta.json ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SnapshotError(f"{path}: not a snapshot of format {FORMAT}")
        self.path = path
        self.version = int(meta["version"])
        self.seen = frozenset(int(v) for v in meta["seen"])
        self.kinds: list[str] = [str(k) for k in meta["kinds"]]
        try:
            self.items = self._array("items")
            self.orgs = self._array("orgs")
            self.frame_item = self._array("frame_item")
            self.extra_item = self._array("extra_item")
            self.extra_kind = self._array("extra_kind")
            self.md5, self.md5_item = self._array("md5"), self._array("md5_item")
            self.sha256, self.sha256_item = self._array("sha256"), self._array("sha256_item")
            self.pdq = HammingIndex.load(path / "pdq.hidx")
            self.frames = HammingIndex.load(path / "frames.hidx")
            self.extra = HammingIndex.load(path / "extra.hidx")
        except (OSError, ValueError, IndexFileError) as exc:
            raise SnapshotError(f"{path}: {exc}") from None
        consistent = (
            self.items.shape == self.orgs.shape == (int(meta["items"]),)
            and len(self.frames) == self.frame_item.shape[0]
            and len(self.extra) == self.extra_item.shape[0] == self.extra_kind.shape[0]
            and self.md5.shape == self.md5_item.shape
            and self.sha256.shape == self.sha256_item.shape
            and (self.extra_kind.size == 0 or int(self.extra_kind.max()) < len(self.kinds))
        )
        if not consistent:
            raise SnapshotError(f"{path}: its arrays do not agree with each other")
        self.count = int(self.items.shape[0])

    def _array(self, name: str) -> np.ndarray[Any, Any]:
        array: np.ndarray[Any, Any] = np.load(self.path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        return array

    def __repr__(self) -> str:
        return f"<Snapshot {self.path} v{self.version} of {self.count} items>"

    # --- what the lookups ask (the same as the in-memory layer) ---

    def owner(self, item_id: int) -> int | None:
        at = int(np.searchsorted(self.items, item_id))
        if at < self.count and int(self.items[at]) == item_id:
            return int(self.orgs[at])
        return None

    def holds(self, item_ids: Iterable[int]) -> int:
        """How many of ``item_ids`` this snapshot has."""
        ids = np.fromiter(item_ids, dtype=np.int64)
        if not ids.size or not self.count:
            return 0
        at = np.minimum(np.searchsorted(self.items, ids), self.count - 1)
        return int(np.count_nonzero(self.items[at] == ids))

    def whole(self, h: PdqHash, radius: int) -> list[tuple[int, int]]:
        return [(m.id, m.distance) for m in self.pdq.query(h, radius)]

    def whole_many(self, hashes: Sequence[PdqHash], radius: int) -> list[list[tuple[int, int]]]:
        return [[(m.id, m.distance) for m in found] for found in self.pdq.query_many(list(hashes), radius)]

    def frames_of(self, h: PdqHash, radius: int) -> list[tuple[int, int]]:
        return [(int(self.frame_item[m.id]), m.distance) for m in self.frames.query(h, radius)]

    def crops(self, hashes: Sequence[PdqHash], radius: int) -> list[list[tuple[int, str, int]]]:
        if not len(self.extra):
            return [[] for _ in hashes]
        return [
            [(int(self.extra_item[m.id]), self.kinds[int(self.extra_kind[m.id])], m.distance) for m in found]
            for found in self.extra.query_many(list(hashes), radius)
        ]

    def digests(self, digest: Md5 | Sha256) -> list[int]:
        table, owners = (
            (self.md5, self.md5_item) if isinstance(digest, Md5) else (self.sha256, self.sha256_item)
        )
        key = np.array(digest.digest, dtype=table.dtype)
        lo = int(np.searchsorted(table, key, side="left"))
        hi = int(np.searchsorted(table, key, side="right"))
        return [int(i) for i in owners[lo:hi]]


def open_latest(name: str) -> Snapshot | None:
    """The newest usable snapshot of ``name``, or None (a damaged one is logged and skipped)."""
    for path in reversed(_dirs(name)):
        try:
            return Snapshot(path)
        except SnapshotError as exc:
            log.warning("index snapshot not used: %s", exc)
    return None
