"""The bank a scan matches against: hashes of content that survivors asked us to look for.

The web app owns the bank (cases, consent, withdrawal); the scanner only sees a
*snapshot* of it, read once per scan through :class:`BankReader`.  A snapshot is
immutable, cheap to pickle (it ships its entries, and rebuilds its indexes where it
lands: a process-pool worker or a Dask worker), and answers one question: which
entries does this found picture match?

Besides the plain PDQ (with the found picture's rotations and flips), a snapshot
matches a found picture's query signals (``haven.signals.query_signals``) with the
rules of :class:`haven.signals.RobustMatcher` against each entry's PDQ and its robust
crop signals (``BankEntry.extra``), so that a cropped, padded or meme-framed copy is
found too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from haven.signals import (
    CROPS,
    DIHEDRAL_ORDER,
    QUALITY_FLOOR,
    THRESHOLDS,
    WEAK_QUALITY,
    WHOLE,
    HammingIndex,
    InvalidHashError,
    Md5,
    PdqHash,
    PdqResult,
    PictureQuery,
    QuerySignal,
    RobustMatcher,
    Signal,
    signals_of_record,
)

__all__ = ["DEFAULT_THRESHOLD", "BankEntry", "BankHit", "BankReader", "BankSnapshot", "JsonlBank"]

DEFAULT_THRESHOLD: Final = 31
"""PDQ's recommended match distance (bits out of 256)."""


@dataclass(frozen=True, slots=True)
class BankEntry:
    """One piece of content to look for.  Either hash may be missing, not both.

    ``extra``: the photo's robust crop signals (``haven.signals.robust_signals`` after
    the first; kinds of ``haven.signals.CROPS``), which need its PDQ hash.
    """

    content_id: str
    case_id: str
    pdq: PdqHash | None = None
    md5: Md5 | None = None
    quality: int = 100
    extra: tuple[Signal, ...] = ()

    def __post_init__(self) -> None:
        if self.pdq is None and self.md5 is None:
            raise ValueError(f"bank entry {self.content_id!r} has neither a PDQ hash nor an MD5")
        if self.extra and self.pdq is None:
            raise ValueError(f"bank entry {self.content_id!r} has crop signals but no PDQ hash")
        unknown = sorted({s.kind for s in self.extra} - set(CROPS))
        if unknown:
            raise ValueError(f"bank entry {self.content_id!r}: unknown signal kinds {', '.join(unknown)}")


@dataclass(frozen=True, slots=True)
class BankHit:
    """A bank entry that a found picture matched, and how."""

    entry: BankEntry
    distance: int
    kind: str
    """``md5`` (the very same file), ``pdq`` (looks the same) or ``video_frame``; for a
    robust match, the entry's signal kind (``pdq`` or a crop kind such as ``centre80``)."""
    transform: str
    """Which rotation/flip of the found picture matched (``original`` when none); for a
    robust match, the query candidate (``whole``, ``photo:0``, ``crop:centre80`` ...)."""
    robust: bool = False
    """Matched through the query signals rather than the plain PDQ."""


@runtime_checkable
class BankReader(Protocol):
    """Port: where a scan gets the bank from.

    The web app implements it over the content items of cases whose consent covers
    monitoring; :class:`JsonlBank` reads the output of ``haven hash``.
    """

    def read_bank(self) -> Iterable[BankEntry]: ...


class BankSnapshot:
    """An immutable set of bank entries with a Hamming index over their PDQ hashes.

    ``threshold``: the largest PDQ distance that counts as a match; it also caps each
    kind's robust threshold (``haven.signals.THRESHOLDS``).  ``quality_floor``: PDQ
    hashes (in the bank or found) below it are *weak* (flat or tiny pictures, whose
    hashes collide easily) and match by MD5 only; crop signals below
    ``haven.signals.QUALITY_FLOOR`` are not matched.
    """

    def __init__(
        self,
        entries: Iterable[BankEntry],
        *,
        threshold: int = DEFAULT_THRESHOLD,
        quality_floor: int = WEAK_QUALITY,
    ) -> None:
        if not 0 <= threshold <= 64:
            raise ValueError("threshold must be between 0 and 64 bits")
        if not 0 <= quality_floor <= 100:
            raise ValueError("quality_floor must be between 0 and 100")
        self.entries: tuple[BankEntry, ...] = tuple(entries)
        self.threshold = threshold
        self.quality_floor = quality_floor
        self._build()

    def _build(self) -> None:
        self._index = HammingIndex()
        rows = [
            k for k, e in enumerate(self.entries) if e.pdq is not None and e.quality >= self.quality_floor
        ]
        self._index.add_many(rows, [self.entries[k].pdq for k in rows])  # type: ignore[misc]
        self.weak_entries = sum(
            1 for e in self.entries if e.pdq is not None and e.quality < self.quality_floor
        )
        self._by_md5: dict[bytes, list[int]] = {}
        for k, e in enumerate(self.entries):
            if e.md5 is not None:
                self._by_md5.setdefault(e.md5.digest, []).append(k)
        # The robust matcher names entries by their position in ``entries``.
        self._robust = RobustMatcher({kind: min(t, self.threshold) for kind, t in THRESHOLDS.items()})
        for k in rows:
            e = self.entries[k]
            assert e.pdq is not None  # noqa: S101 - rows hold entries with a PDQ hash
            crops = [s for s in e.extra if s.quality >= QUALITY_FLOOR]
            self._robust.add(str(k), [Signal(WHOLE, e.pdq, e.quality), *crops])

    @property
    def robust_signals(self) -> int:
        """How many signals the robust matcher holds (0: query signals can match nothing)."""
        return len(self._robust)

    @classmethod
    def from_reader(
        cls, reader: BankReader, *, threshold: int = DEFAULT_THRESHOLD, quality_floor: int = WEAK_QUALITY
    ) -> BankSnapshot:
        return cls(reader.read_bank(), threshold=threshold, quality_floor=quality_floor)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<BankSnapshot of {len(self)} entries, threshold {self.threshold}>"

    # Pickled as its entries; the index is rebuilt where it lands (it holds a lock).
    def __getstate__(self) -> dict[str, Any]:
        return {"entries": self.entries, "threshold": self.threshold, "quality_floor": self.quality_floor}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.entries = state["entries"]
        self.threshold = state["threshold"]
        self.quality_floor = state["quality_floor"]
        self._build()

    def match(
        self, pdq: PdqResult | None, md5: Md5 | None, query: Sequence[QuerySignal] | PictureQuery = ()
    ) -> list[BankHit]:
        """The entries a found picture matches, best first; each entry once.

        The PDQ query tries all 8 rotations and flips of the found picture (a
        re-post is often mirrored or turned), and skips weak found hashes.  ``query``:
        the found picture's query signals, matched with the robust rules (a
        :class:`PictureQuery` also lets near misses be refined); an entry that the
        plain hashes match as closely keeps the plain hit.
        """
        best: dict[int, BankHit] = {}
        if md5 is not None:
            for k in self._by_md5.get(md5.digest, ()):
                best[k] = BankHit(self.entries[k], 0, "md5", "original")
        if pdq is not None and pdq.quality >= self.quality_floor and len(self._index):
            for transform, matches in zip(
                DIHEDRAL_ORDER, self._index.query_many(pdq.dihedral(), self.threshold), strict=True
            ):
                for m in matches:
                    old = best.get(m.id)
                    if old is None or (old.kind != "md5" and m.distance < old.distance):
                        best[m.id] = BankHit(self.entries[m.id], m.distance, "pdq", transform)
        if query and len(self._robust):
            for r in self._robust.match(query):
                k = int(r.item)
                old = best.get(k)
                if old is None or (old.kind != "md5" and r.distance < old.distance):
                    best[k] = BankHit(self.entries[k], r.distance, r.kind, r.candidate, robust=True)
        return sorted(best.values(), key=lambda h: (h.distance, h.entry.content_id, h.entry.case_id))

    def match_frames(self, frames: Iterable[tuple[PdqHash, int]]) -> list[BankHit]:
        """Entries that any good video frame matches (as it is; no rotations), best first."""
        hashes = [h for h, quality in frames if quality >= self.quality_floor]
        if not hashes or not len(self._index):
            return []
        best: dict[int, int] = {}
        for matches in self._index.query_many(hashes, self.threshold):
            for m in matches:
                best[m.id] = min(best.get(m.id, 999), m.distance)
        hits = [BankHit(self.entries[k], d, "video_frame", "original") for k, d in best.items()]
        return sorted(hits, key=lambda h: (h.distance, h.entry.content_id, h.entry.case_id))


class BankFileError(ValueError):
    """A bank file cannot be read; the message names the line."""


class JsonlBank:
    """A :class:`BankReader` over the JSON Lines that ``haven hash`` writes.

    Each line with a ``pdq`` and/or ``md5`` is one entry; its content id is the
    line's ``id`` (or ``content_id``) if present, else its ``path``; its case id is
    ``case`` (or ``case_id``) if present, else empty.  The crop signals that
    ``haven hash --robust`` writes (``extra``) come with the entry.  Error lines
    (``{"path", "error"}``) are skipped.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def read_bank(self) -> Iterator[BankEntry]:
        try:
            handle = open(self.path, encoding="utf-8")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise BankFileError(f"cannot read the bank file {self.path}: {exc.strerror or exc}") from None
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise BankFileError(f"{self.path}, line {number}: not JSON") from None
                if not isinstance(record, dict):
                    raise BankFileError(f"{self.path}, line {number}: not a JSON object")
                if "error" in record and "pdq" not in record and "md5" not in record:
                    continue
                yield _entry(record, f"{self.path}, line {number}")


def _entry(record: dict[str, Any], where: str) -> BankEntry:
    content_id = record.get("id", record.get("content_id", record.get("path")))
    if content_id is None:
        raise BankFileError(f"{where}: no id or path")
    case_id = record.get("case", record.get("case_id", ""))
    try:
        pdq = PdqHash.from_hex(record["pdq"]) if record.get("pdq") else None
        md5 = Md5.from_hex(record["md5"]) if record.get("md5") else None
    except (InvalidHashError, TypeError) as exc:
        raise BankFileError(f"{where}: {exc}") from None
    quality = record.get("quality", 100)
    if not isinstance(quality, int) or isinstance(quality, bool):
        raise BankFileError(f"{where}: quality must be a whole number")
    if pdq is None and md5 is None:
        raise BankFileError(f"{where}: neither a pdq nor an md5")
    extra: tuple[Signal, ...] = ()
    if record.get("extra") is not None:
        if pdq is None:
            raise BankFileError(f"{where}: crop signals (extra) need a pdq")
        try:
            extra = tuple(s for s in signals_of_record(record) if s.kind in CROPS)
        except (InvalidHashError, ValueError) as exc:
            raise BankFileError(f"{where}: {exc}") from None
    return BankEntry(str(content_id), str(case_id), pdq, md5, quality, extra)
