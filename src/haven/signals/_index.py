"""Indexes: which stored hashes does a query match?

:class:`HammingIndex` answers exact Hamming range queries over 256-bit PDQ hashes;
:class:`DigestIndex` answers exact-match queries over MD5 or SHA-256 digests.  Both
take arbitrary integer ids (database primary keys) and change at once: an added
hash matches the next query, a removed one never matches again, with no rebuild
in between.

How :class:`HammingIndex` finds neighbours without scanning everything
-----------------------------------------------------------------------

A hash is cut into 16 chunks of 16 bits, taken in 8 adjacent *pairs*.  If two hashes
are at most ``r`` bits apart, the differing bits are shared among the 8 pairs, so
some pair differs in at most ``T = r // 8`` bits (pigeonhole), and within that pair
one of its two chunks differs in at most ``t = T // 2`` bits.  For ``r <= 31`` that
is ``T = 3`` and ``t = 1``.

Each chunk has a table: the rows of the stored hashes grouped by the value of that
chunk (compressed sparse rows: 65,537 offsets and one 32-bit entry per hash).  A
query looks up, in every table, its own chunk value and every value within ``t``
flips (17 buckets per chunk at ``r <= 31``).  Each entry holds the row number in its
low bits and, in the bits the row does not need, the leading bits of the *other*
chunk of the pair.  A candidate whose probe flips plus the difference in those
leading bits already exceeds ``T`` cannot be a match and is dropped without
touching its hash; the rest are verified with a popcount over the four 64-bit
words.  Every step only discards what provably cannot match, so the result equals
a brute-force scan for every radius from 0 to 64.

Updates: a log-structured layout
--------------------------------

The hashes live in up to four places: a large immutable *main* segment, *frozen*
segments on their way into main, a smaller immutable *delta* segment (all in the
table form above), and an append-only *buffer* of the latest additions that is
scanned directly.  When the buffer is full it is folded into a rebuilt delta; a
delta that outgrows its share of main is frozen and merged into main by a
background thread.  A removal stamps the row dead; dead rows are skipped by every
later query and dropped when their segment is rebuilt.

Concurrency: one writer, any number of readers.  Writers are serialised by a lock
inside the index.  Every write builds a new immutable *state* (segments, buffer
length, version) and publishes it with a single reference assignment; a query
reads that reference once and answers from it, so it sees every write that
completed before it started and never half of one.  Dead rows are stamped with
the version that killed them, which is how an older state still sees a row that
a newer state has removed.  docs/index.md has the measurements behind the design.
"""

from __future__ import annotations

import json
import math
import operator
import os
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Generic, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from ._hashers import PdqResult
from ._hashes import Md5, PdqHash, Sha256

__all__ = ["DigestIndex", "DuplicateIdError", "HammingIndex", "IndexFileError", "Match"]

Words: TypeAlias = npt.NDArray[np.uint64]
Ids: TypeAlias = npt.NDArray[np.int64]
IntArray: TypeAlias = npt.NDArray[np.intp]

MAX_RADIUS: Final = 64
"""The largest radius a query accepts; results stay exact up to it."""

MAX_ID: Final = 2**63 - 1
_MISSING: Final = 1 << 62  # a dead-stamp no state version ever reaches

_CHUNKS: Final = 16
_BUCKETS: Final = 1 << 16
_SHIFTS: Final = np.array([48, 32, 16, 0] * 4, dtype=np.uint64)
_WORD_OF_CHUNK: Final = np.repeat(np.arange(4), 4)
_SIBLING: Final = np.arange(_CHUNKS) ^ 1
_CHUNK_BASE: Final = np.arange(_CHUNKS, dtype=np.int64) * (_BUCKETS + 1)
_MAX_SEGMENT: Final = 2**31 - 1  # row numbers must leave at least one filter bit in 32

_QUERY_BATCH: Final = 64  # queries searched together; bounds the temporary arrays
_DELTA_FRACTION: Final = 128  # a delta over len(main) / 128 entries is merged into main

_FORMAT: Final = "haven-index"
_FORMAT_VERSION: Final = 1
_MAGIC: Final = b"HAVENIX\x00"
_ALIGN: Final = 4096


class IndexFileError(ValueError):
    """A saved index cannot be loaded: not an index file, truncated, corrupt, or a
    format version this Haven does not read.  Nothing is loaded."""


class DuplicateIdError(ValueError):
    """The id is already in the index.  Remove it first to give it a new hash."""


@dataclass(frozen=True, slots=True, order=True)
class Match:
    """One stored entry that matched a query.

    Ordering is by ``distance`` then ``id``, the order queries return.
    """

    distance: int
    id: int


def _flip_masks(max_flips: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Every 16-bit mask with at most ``max_flips`` set bits, and its bit count."""
    masks = np.arange(_BUCKETS, dtype=np.int64)
    counts = np.bitwise_count(masks)
    order = np.argsort(counts, kind="stable")
    keep = order[counts[order] <= max_flips]
    return masks[keep], counts[keep].astype(np.uint32)


_PROBES: Final = [_flip_masks(t) for t in range(MAX_RADIUS // 16 + 1)]


def _check_radius(radius: object) -> int:
    if not isinstance(radius, int | np.integer) or isinstance(radius, bool):
        raise TypeError(f"radius must be an int, not {type(radius).__name__}")
    r = int(radius)
    if not 0 <= r <= MAX_RADIUS:
        raise ValueError(f"radius must be between 0 and {MAX_RADIUS} bits, got {r}")
    return r


def _check_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"an id must be an int, not {type(value).__name__}")
    i = operator.index(value)
    if not 0 <= i <= MAX_ID:
        raise ValueError(f"an id must be between 0 and 2**63-1, got {i}")
    return i


def _ids_array(ids: Iterable[int] | npt.NDArray[np.integer[Any]]) -> Ids:
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise TypeError("ids must be a one-dimensional array of integers")
        if ids.dtype.kind == "u" and ids.size and int(ids.max()) > MAX_ID:
            raise ValueError("an id must be between 0 and 2**63-1")
        arr = ids.astype(np.int64)
    else:
        arr = np.array([_check_id(i) for i in ids], dtype=np.int64)
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"an id must be between 0 and 2**63-1, got {int(arr.min())}")
    return arr


def _words_of(h: object) -> Words:
    if isinstance(h, PdqHash):
        return h.to_words()
    if isinstance(h, PdqResult):
        return h.hash.to_words()
    raise TypeError(f"expected a PdqHash, not {type(h).__name__}")


def _words_array(hashes: Iterable[PdqHash] | npt.NDArray[np.uint64]) -> Words:
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint64 or hashes.ndim != 2 or hashes.shape[1] != 4:
            raise TypeError("a hash array must be uint64 with shape (n, 4), most significant word first")
        return np.ascontiguousarray(hashes)
    items = list(hashes)
    out = np.empty((len(items), 4), dtype=np.uint64)
    for k, h in enumerate(items):
        if not isinstance(h, PdqHash):
            raise TypeError(f"expected a PdqHash, not {type(h).__name__}")
        out[k] = h.to_words()
    return out


def _chunks(words: Words) -> npt.NDArray[np.int64]:
    """(n, 16) chunk values, chunk 0 being the most significant 16 bits."""
    return ((words[:, _WORD_OF_CHUNK] >> _SHIFTS) & np.uint64(0xFFFF)).astype(np.int64)


def _popcount_rows(x: Words) -> npt.NDArray[np.uint32]:
    """Bit count of each (4-word) row, summed without the slow axis reduction."""
    b = np.bitwise_count(x).view(np.uint32).reshape(-1)  # four byte-counts per row
    s = (b & np.uint32(0x00FF00FF)) + ((b >> np.uint32(8)) & np.uint32(0x00FF00FF))
    return (s & np.uint32(0xFFFF)) + (s >> np.uint32(16))


_EMPTY_INT: Final = np.empty(0, dtype=np.intp)


class _Segment:
    """An immutable set of hashes with its 16 chunk tables.  Rows are sorted by id."""

    __slots__ = (
        "_offs",
        "_table_starts",
        "dead",
        "filter_bits",
        "ids",
        "n",
        "row_bits",
        "tables",
        "words",
    )

    def __init__(
        self,
        words: Words,
        ids: Ids,
        offsets: npt.NDArray[np.int64],
        tables: npt.NDArray[np.uint32],
        dead: dict[int, int] | None = None,
    ) -> None:
        self.words = words
        self.ids = ids
        self.n = int(ids.shape[0])
        self.tables = tables
        self.row_bits, self.filter_bits = _layout(self.n)
        # Each chunk's bucket offsets end to end, so one gather serves all chunks.  A view, not a
        # copy: a segment mapped from a file keeps its 8 MiB of offsets in the shared file pages.
        self._offs = offsets.reshape(-1)
        self._table_starts = (np.arange(_CHUNKS, dtype=np.int64) * self.n)[:, None]  # in the flat tables
        # row -> version of the write that removed it (mutated only by the writer).
        self.dead: dict[int, int] = dead if dead is not None else {}

    @property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Per chunk, where each bucket starts in that chunk's table (65,537 each)."""
        return self._offs.reshape(_CHUNKS, _BUCKETS + 1)

    @property
    def nbytes(self) -> int:
        return self.words.nbytes + self.ids.nbytes + self.tables.nbytes + self._offs.nbytes if self.n else 0

    @classmethod
    def build(cls, words: Words, ids: Ids) -> _Segment:
        n = int(ids.shape[0])
        if n > _MAX_SEGMENT:
            raise ValueError(f"an index segment holds at most {_MAX_SEGMENT} hashes")
        if n > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids, words = ids[order], words.take(order, axis=0)
        row_bits, filter_bits = _layout(n)
        offsets = np.zeros((_CHUNKS, _BUCKETS + 1), dtype=np.int64)
        tables = np.empty((_CHUNKS, n), dtype=np.uint32)
        chunk = np.empty((_CHUNKS, n), dtype=np.uint16)
        for c in range(_CHUNKS):
            chunk[c] = words[:, c // 4] >> _SHIFTS[c]
        drop = np.uint16(16 - filter_bits)
        for c in range(_CHUNKS):
            order = np.argsort(chunk[c], kind="stable")  # radix sort; keeps rows ascending per bucket
            counts = np.zeros(_BUCKETS, dtype=np.int64)
            for start in range(0, n, 1 << 20):  # bincount holds the GIL: keep each call short
                counts += np.bincount(chunk[c, start : start + (1 << 20)], minlength=_BUCKETS)
            np.cumsum(counts, out=offsets[c, 1:])
            sib = (chunk[c ^ 1].take(order) >> drop).astype(np.uint32)
            np.bitwise_or(order.astype(np.uint32), sib << np.uint32(row_bits), out=tables[c])
        return cls(words, ids, offsets, tables)

    def alive_rows(self, version: int) -> IntArray:
        if not self.dead:
            return np.arange(self.n, dtype=np.intp)
        gone = np.fromiter((r for r, v in self.dead.items() if v <= version), dtype=np.intp)
        keep = np.ones(self.n, dtype=bool)
        keep[gone] = False
        return np.flatnonzero(keep)

    def find(self, id_: int, version: int) -> int | None:
        """The row holding ``id_`` alive in the given state, if any."""
        row = int(np.searchsorted(self.ids, id_))
        if row < self.n and int(self.ids[row]) == id_ and self.dead.get(row, _MISSING) > version:
            return row
        return None

    def search(
        self, qw: Words, qc: npt.NDArray[np.int64], radius: int
    ) -> tuple[IntArray, IntArray, IntArray]:
        """(query index, row, distance) of every row within ``radius`` of each query."""
        if self.n == 0:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_INT
        pair_limit = radius // 8
        masks, flips = _PROBES[pair_limit // 2]
        n_probes = masks.shape[0]
        keys = qc[:, :, None] ^ masks  # (Q, 16, P)
        idx = (keys + _CHUNK_BASE[:, None]).reshape(-1)
        starts = self._offs.take(idx)
        lengths = self._offs.take(idx + 1) - starts
        starts = (starts.reshape(keys.shape) + self._table_starts).reshape(-1)
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        if total == 0:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_INT
        pos = np.repeat(starts - (ends - lengths), lengths)
        pos += np.arange(total, dtype=np.int64)
        entries = self.tables.reshape(-1).take(pos)
        # What each entry's filter bits are compared with: the query's leading bits of
        # the sibling chunk, plus one extra set bit per flip spent on the probe.
        fb = self.filter_bits
        qsib = (qc[:, _SIBLING] >> (16 - fb)).astype(np.uint32)
        expect = qsib[:, :, None] | (((np.uint32(1) << flips) - np.uint32(1)) << np.uint32(fb))
        x = entries >> np.uint32(self.row_bits)
        x ^= np.repeat(expect.reshape(-1), lengths)
        hit = np.flatnonzero(np.bitwise_count(x) <= pair_limit)
        rows = (entries.take(hit) & np.uint32((1 << self.row_bits) - 1)).astype(np.intp)
        qidx = np.searchsorted(ends, hit, side="right") // (_CHUNKS * n_probes)
        dist = _popcount_rows(self.words.take(rows, axis=0) ^ qw.take(qidx, axis=0))
        ok = np.flatnonzero(dist <= radius)
        qidx, rows, dist = qidx.take(ok), rows.take(ok), dist.take(ok)
        if qidx.size > 1:  # a close match is found through several chunks
            _, first = np.unique(qidx * self.n + rows, return_index=True)
            qidx, rows, dist = qidx.take(first), rows.take(first), dist.take(first)
        return qidx, rows, dist.astype(np.intp)


def _layout(n: int) -> tuple[int, int]:
    """Bits of each 32-bit table entry spent on the row number and on the filter."""
    row_bits = max(1, (n - 1).bit_length())
    return row_bits, min(16, 32 - row_bits)


_EMPTY_SEGMENT_WORDS: Final = np.empty((0, 4), dtype=np.uint64)
_EMPTY_SEGMENT_IDS: Final = np.empty(0, dtype=np.int64)


_EMPTY: list[_Segment] = []


def _empty_segment() -> _Segment:
    # Shared: an empty segment has no rows, so nothing is ever written to it.
    if not _EMPTY:
        _EMPTY.append(_Segment.build(_EMPTY_SEGMENT_WORDS, _EMPTY_SEGMENT_IDS))
    return _EMPTY[0]


class _Buffer:
    """Append-only recent additions, scanned directly.  Rows past a state's
    ``buffer_len`` are invisible to it, so appending never disturbs a reader."""

    __slots__ = ("dead", "ids", "rows", "words")

    def __init__(self, capacity: int) -> None:
        self.words = np.zeros((capacity, 4), dtype=np.uint64)
        self.ids = np.zeros(capacity, dtype=np.int64)
        self.rows: dict[int, int] = {}  # id -> row (writer's map; readers check the length)
        self.dead: dict[int, int] = {}

    def search(self, qw: Words, length: int, radius: int) -> tuple[IntArray, IntArray, IntArray]:
        if length == 0:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_INT
        words = self.words[:length]
        qs, rs, ds = [], [], []
        for q in range(qw.shape[0]):
            dist = _popcount_rows(words ^ qw[q])
            ok = np.flatnonzero(dist <= radius)
            if ok.size:
                qs.append(np.full(ok.size, q, dtype=np.intp))
                rs.append(ok)
                ds.append(dist.take(ok).astype(np.intp))
        if not qs:
            return _EMPTY_INT, _EMPTY_INT, _EMPTY_INT
        return np.concatenate(qs), np.concatenate(rs), np.concatenate(ds)


@dataclass(frozen=True, slots=True)
class _State:
    """What one query sees; never changed after it is published.

    ``frozen`` holds full deltas waiting for (or undergoing) a background merge
    into ``main``; they are searched like any other segment meanwhile.
    """

    main: _Segment
    frozen: tuple[_Segment, ...]
    delta: _Segment
    buffer: _Buffer
    buffer_len: int
    count: int
    version: int

    @property
    def segments(self) -> tuple[_Segment, ...]:
        return (self.main, *self.frozen, self.delta)

    def but(self, **changes: Any) -> _State:
        return replace(self, **changes)


def _drop_dead(
    found: tuple[IntArray, IntArray, IntArray], dead: dict[int, int], version: int
) -> tuple[IntArray, IntArray, IntArray]:
    q, rows, d = found
    if not dead or rows.size == 0:
        return found
    keep = np.fromiter((dead.get(r, _MISSING) > version for r in rows.tolist()), dtype=bool, count=rows.size)
    return q[keep], rows[keep], d[keep]


def _gather(parts: list[tuple[_Segment | _Buffer, IntArray]]) -> tuple[Words, Ids]:
    words = [holder.words.take(rows, axis=0) for holder, rows in parts]
    ids = [holder.ids.take(rows) for holder, rows in parts]
    return np.concatenate([_EMPTY_SEGMENT_WORDS, *words]), np.concatenate([_EMPTY_SEGMENT_IDS, *ids])


class HammingIndex:
    """Exact Hamming range search over 256-bit PDQ hashes, updated in place.

    ``add(id, h)`` and ``remove(id)`` take effect for the next query, with no
    rebuild: a withdrawal stops matching at once.  Ids are ints from 0 to 2**63-1
    and each id holds one hash; adding an id that is already present raises
    :class:`DuplicateIdError` (remove it first to replace its hash), removing an
    id that is absent raises :class:`KeyError`.

    ``query(h, radius=31)`` returns every entry within ``radius`` bits (0-64) as
    :class:`Match` objects sorted by distance then id - exactly what comparing
    against every stored hash would return.  ``query(result, dihedral=True)``
    with a :class:`PdqResult` also tries the picture's rotations and flips and keeps
    the best distance per id; :meth:`query_any` does the same for any list of
    query hashes (for instance 8 stored dihedral variants).

    Thread safety: one writer at a time (writes are serialised by an internal
    lock), any number of concurrent readers; each query answers from one
    consistent state that includes every write completed before it started.
    Merging recent additions into the main segment happens on a background
    thread; until it lands, they are searched where they are.

    ``save(path)`` writes one file; ``HammingIndex.load(path)`` memory-maps it
    without rebuilding anything and checks it (a damaged file raises
    :class:`IndexFileError`).
    """

    def __init__(self, *, buffer_size: int = 4096, delta_min: int = 1 << 16) -> None:
        """An empty index.

        The keywords tune the update path and never change results: up to
        ``buffer_size`` recent additions are scanned directly before they are
        folded into the delta segment, and the delta is handed to a background
        merge into main once it holds more than ``max(delta_min, len(main) // 128)``
        entries.
        """
        for name, value in (("buffer_size", buffer_size), ("delta_min", delta_min)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self._buffer_size = buffer_size
        self._delta_min = delta_min
        self._lock = threading.Lock()
        self._merger: threading.Thread | None = None
        self._merge_error: BaseException | None = None
        empty = _empty_segment()
        self._state = _State(empty, (), empty, _Buffer(buffer_size), 0, 0, 0)

    # -- reading --------------------------------------------------------------

    def __len__(self) -> int:
        return self._state.count

    def __contains__(self, id_: object) -> bool:
        if isinstance(id_, bool) or not isinstance(id_, int | np.integer):
            return False
        return self._locate(self._state, int(id_)) is not None

    def __repr__(self) -> str:
        return f"<HammingIndex of {len(self)} hashes>"

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the index holds (hashes, ids, tables), mapped or not.

        A background merge briefly holds a second copy of the main segment.
        """
        s = self._state
        return sum(seg.nbytes for seg in s.segments) + s.buffer.words.nbytes + s.buffer.ids.nbytes

    def query(self, h: PdqHash | PdqResult, radius: int = 31, *, dihedral: bool = False) -> list[Match]:
        """Every stored entry within ``radius`` bits of ``h``, by distance then id.

        With ``dihedral=True``, ``h`` must be a :class:`PdqResult`; its 8 rotated
        and flipped hashes are all tried and each id reports its best distance.
        """
        r = _check_radius(radius)
        if dihedral:
            if not isinstance(h, PdqResult):
                raise TypeError(
                    "dihedral=True needs the PdqResult of pdq_hash() (a bare PdqHash cannot be "
                    "rotated); or pass the variant hashes to query_any()"
                )
            return self.query_any(h.dihedral(), r)
        return self._search_many(_words_of(h)[None, :], r)[0]

    def query_any(self, hashes: Iterable[PdqHash], radius: int = 31) -> list[Match]:
        """Entries within ``radius`` of any of ``hashes``, each id once at its best distance."""
        r = _check_radius(radius)
        qw = _words_array(hashes)
        if qw.shape[0] == 0:
            raise ValueError("query_any needs at least one hash")
        best: dict[int, int] = {}
        for matches in self._search_many(qw, r):
            for m in matches:
                if best.get(m.id, MAX_RADIUS + 1) > m.distance:
                    best[m.id] = m.distance
        return sorted(Match(d, i) for i, d in best.items())

    def query_many(
        self, hashes: Iterable[PdqHash] | npt.NDArray[np.uint64], radius: int = 31
    ) -> list[list[Match]]:
        """``query`` for each hash, answered together (faster than one at a time).

        ``hashes`` may be PdqHash objects or a uint64 array of shape (n, 4).
        All answers come from the same state of the index.
        """
        r = _check_radius(radius)
        return self._search_many(_words_array(hashes), r)

    # -- writing --------------------------------------------------------------

    def add(self, id_: int, h: PdqHash) -> None:
        """Store ``h`` under ``id_``; it matches from the next query on."""
        i = _check_id(id_)
        if not isinstance(h, PdqHash):
            raise TypeError(f"expected a PdqHash, not {type(h).__name__}")
        words = h.to_words()
        with self._lock:
            s = self._state
            if self._locate(s, i) is not None:
                raise DuplicateIdError(f"id {i} is already in the index")
            if s.buffer_len == self._buffer_size:
                self._publish(self._fold(s, words[None, :], np.array([i], dtype=np.int64)))
                return
            buf = s.buffer
            buf.words[s.buffer_len] = words
            buf.ids[s.buffer_len] = i
            buf.rows[i] = s.buffer_len
            self._publish(s.but(buffer_len=s.buffer_len + 1, count=s.count + 1, version=s.version + 1))

    def add_many(
        self, ids: Iterable[int] | npt.NDArray[np.integer[Any]], hashes: Iterable[PdqHash] | Words
    ) -> None:
        """Store many hashes at once: all of them, or (on bad input) none.

        ``hashes`` may be PdqHash objects or a uint64 array of shape (n, 4), most
        significant word first (as :meth:`PdqHash.to_words`).
        """
        id_arr = _ids_array(ids)
        words = _words_array(hashes)
        if id_arr.shape[0] != words.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids but {words.shape[0]} hashes")
        if id_arr.size == 0:
            return
        uniq = np.unique(id_arr)
        if uniq.size != id_arr.size:
            raise DuplicateIdError("the same id appears more than once in the batch")
        with self._lock:
            s = self._state
            present = self._present(s, uniq)
            if present.size:
                raise DuplicateIdError(
                    f"{present.size} of the ids are already in the index, e.g. {int(present[0])}"
                )
            if id_arr.size > self._buffer_size - s.buffer_len:
                self._publish(self._fold(s, words, id_arr))
                return
            buf = s.buffer
            end = s.buffer_len + id_arr.size
            buf.words[s.buffer_len : end] = words
            buf.ids[s.buffer_len : end] = id_arr
            buf.rows.update(zip(id_arr.tolist(), range(s.buffer_len, end), strict=True))
            self._publish(s.but(buffer_len=end, count=s.count + id_arr.size, version=s.version + 1))

    def remove(self, id_: int) -> None:
        """Withdraw ``id_``: no query that starts after this returns it."""
        i = _check_id(id_)
        with self._lock:
            s = self._state
            where = self._locate(s, i)
            if where is None:
                raise KeyError(i)
            self._publish(self._kill(s, [(i, where)]))

    def remove_many(self, ids: Iterable[int] | npt.NDArray[np.integer[Any]]) -> None:
        """Withdraw every id in ``ids``: all of them, or (if one is absent) none."""
        id_arr = _ids_array(ids)
        if id_arr.size == 0:
            return
        if np.unique(id_arr).size != id_arr.size:
            raise ValueError("the same id appears more than once in the batch")
        with self._lock:
            s = self._state
            id_list = id_arr.tolist()
            places = [self._locate(s, i) for i in id_list]
            found: list[tuple[int, tuple[_Segment | _Buffer, int]]] = []
            for i, where in zip(id_list, places, strict=True):
                if where is None:
                    raise KeyError(i)
                found.append((i, where))
            self._publish(self._kill(s, found))

    def compact(self) -> None:
        """Merge everything into one main segment and drop dead rows (a full rebuild).

        Never needed for correctness; it makes queries a little faster after many
        writes.  It waits for a background merge that is under way.
        """
        self._wait_for_merge()
        with self._lock:
            self._state = self._fold(self._state, _EMPTY_SEGMENT_WORDS, _EMPTY_SEGMENT_IDS, into_main=True)

    # -- persistence ----------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to one file (atomically: a crash leaves the old file).

        The tables are stored as they are, so loading rebuilds nothing.
        """
        self._wait_for_merge()
        with self._lock:  # the dead-row maps are only stable while no write runs
            s = self._state
            dead = [np.array(sorted(seg.dead), dtype=np.int64) for seg in s.segments]
            live = np.array([r for r in range(s.buffer_len) if r not in s.buffer.dead], dtype=np.intp)
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for k, seg in enumerate(s.segments):
            arrays[f"{k}.ids"] = seg.ids
            arrays[f"{k}.words"] = seg.words
            arrays[f"{k}.offsets"] = seg.offsets
            arrays[f"{k}.tables"] = seg.tables
            arrays[f"{k}.dead"] = dead[k]
        arrays["buffer.ids"] = s.buffer.ids.take(live)
        arrays["buffer.words"] = s.buffer.words.take(live, axis=0)
        meta = {"count": s.count, "segments": len(s.segments)}
        _write_container(Path(path), "hamming", meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HammingIndex:
        """Open a file written by :meth:`save`; the big arrays stay memory-mapped."""
        meta, arrays = _read_container(Path(path), "hamming")
        n_segments = meta.get("segments")
        _expect(isinstance(n_segments, int) and n_segments >= 2, "bad segment count")
        segments = []
        for k in range(int(n_segments)):  # type: ignore[arg-type]
            try:
                ids, words, offsets = arrays[f"{k}.ids"], arrays[f"{k}.words"], arrays[f"{k}.offsets"]
                tables, dead = arrays[f"{k}.tables"], arrays[f"{k}.dead"]
            except KeyError as e:
                raise IndexFileError(f"not a valid Haven index file: array {e} is missing") from e
            n = ids.shape[0]
            _expect(ids.dtype == np.int64 and ids.ndim == 1, "ids must be int64")
            _expect(words.dtype == np.uint64 and words.shape == (n, 4), "bad hash array")
            _expect(offsets.dtype == np.int64 and offsets.shape == (_CHUNKS, _BUCKETS + 1), "bad offsets")
            _expect(tables.dtype == np.uint32 and tables.shape == (_CHUNKS, n), "bad tables")
            _expect(dead.dtype == np.int64 and dead.ndim == 1, "bad dead-row list")
            _expect(n == 0 or bool(np.all(ids[1:] > ids[:-1])), "ids are not strictly increasing")
            _expect(n == 0 or int(ids[0]) >= 0, "negative id")
            _expect(
                bool(np.all(offsets[:, 0] == 0))
                and bool(np.all(offsets[:, -1] == n))
                and bool(np.all(np.diff(offsets, axis=1) >= 0)),
                "offsets are inconsistent",
            )
            _expect(dead.size == 0 or (int(dead.min()) >= 0 and int(dead.max()) < n), "bad dead row")
            segments.append(_Segment(words, ids, offsets, tables, dict.fromkeys(dead.tolist(), 0)))
        buf_ids, buf_words = arrays.get("buffer.ids"), arrays.get("buffer.words")
        if buf_ids is None or buf_words is None:
            raise IndexFileError("not a valid Haven index file: the buffer arrays are missing")
        _expect(
            buf_ids.dtype == np.int64
            and buf_words.dtype == np.uint64
            and buf_words.shape == (buf_ids.shape[0], 4),
            "bad buffer arrays",
        )
        stored = sum(seg.n - len(seg.dead) for seg in segments)
        _expect(meta.get("count") == stored + buf_ids.shape[0], "the entry count does not match the arrays")
        index = cls()
        main, *frozen, delta = segments
        index._state = _State(main, tuple(frozen), delta, index._state.buffer, 0, stored, 1)
        if buf_ids.size:
            try:
                index.add_many(np.array(buf_ids), np.array(buf_words))
            except ValueError as e:
                raise IndexFileError(f"not a valid Haven index file: {e}") from e
        return index

    # -- internals ------------------------------------------------------------

    def _publish(self, s: _State) -> None:
        """Make ``s`` what queries see (caller holds the lock); start a merge if due."""
        if s.frozen and self._merger is None and self._merge_error is None:
            self._start_merge(s)
        self._state = s

    def _locate(self, s: _State, i: int) -> tuple[_Segment | _Buffer, int] | None:
        row = s.buffer.rows.get(i)
        if row is not None and row < s.buffer_len and s.buffer.dead.get(row, _MISSING) > s.version:
            return s.buffer, row
        for seg in reversed(s.segments):
            r = seg.find(i, s.version)
            if r is not None:
                return seg, r
        return None

    def _present(self, s: _State, ids: Ids) -> Ids:
        """Which of the (sorted, unique) ``ids`` are alive in ``s``."""
        found = np.zeros(ids.size, dtype=bool)
        for seg in s.segments:
            if seg.n == 0:
                continue
            pos = np.minimum(np.searchsorted(seg.ids, ids), seg.n - 1)
            hit = np.flatnonzero(seg.ids.take(pos) == ids)
            if seg.dead:
                hit = hit[[seg.dead.get(int(p), _MISSING) > s.version for p in pos.take(hit).tolist()]]
            found[hit] = True
        if s.buffer.rows:
            rows = s.buffer.rows
            found |= np.fromiter(
                (rows.get(i, s.buffer_len) < s.buffer_len for i in ids.tolist()), bool, ids.size
            )
        return ids[found]

    def _kill(self, s: _State, found: list[tuple[int, tuple[_Segment | _Buffer, int]]]) -> _State:
        """Stamp the rows dead as of the next version (lock held); the state that has them gone."""
        version = s.version + 1
        for i, (holder, row) in found:
            holder.dead[row] = version
            if isinstance(holder, _Buffer):
                del holder.rows[i]
        s = s.but(count=s.count - len(found), version=version)
        # Dead rows cost a dict entry each until their segment is rebuilt.
        if len(s.main.dead) > max(self._delta_min, s.main.n // 8) and self._merger is None:
            s = s.but(frozen=(*s.frozen, s.delta), delta=_empty_segment()) if s.delta.n else s
            self._start_merge(s)
        return s

    def _delta_max(self, main_n: int) -> int:
        return max(self._delta_min, main_n // _DELTA_FRACTION)

    def _fold(self, s: _State, words: Words, ids: Ids, *, into_main: bool = False) -> _State:
        """Fold the buffer, the delta and new entries into a rebuilt delta, freezing
        it for a background merge once it is full; or, for ``into_main`` and for
        batches larger than main itself, rebuild main here and now."""
        self._merge_error = None  # a failed merge is retried from here on
        buf_live = np.array([r for r in range(s.buffer_len) if r not in s.buffer.dead], dtype=np.intp)
        recent: list[tuple[_Segment | _Buffer, IntArray]] = [
            (s.delta, s.delta.alive_rows(s.version)),
            (s.buffer, buf_live),
        ]
        new_words, new_ids = _gather(recent)
        new_words, new_ids = np.concatenate([new_words, words]), np.concatenate([new_ids, ids])
        version = s.version + 1
        empty = _empty_segment()
        if into_main or new_ids.size > max(self._delta_max(s.main.n), s.main.n):
            older: list[tuple[_Segment | _Buffer, IntArray]] = [
                (seg, seg.alive_rows(s.version)) for seg in (s.main, *s.frozen)
            ]
            old_words, old_ids = _gather(older)
            main = _Segment.build(np.concatenate([old_words, new_words]), np.concatenate([old_ids, new_ids]))
            return _State(main, (), empty, _Buffer(self._buffer_size), 0, main.n, version)
        delta = _Segment.build(new_words, new_ids)
        s = s.but(delta=delta, buffer=_Buffer(self._buffer_size), buffer_len=0, count=s.count + ids.size)
        if delta.n > self._delta_max(s.main.n):
            s = s.but(frozen=(*s.frozen, delta), delta=empty)
        return s.but(version=version)

    def _start_merge(self, s: _State) -> None:
        """Merge main and the frozen deltas of ``s`` on a background thread (lock held)."""
        parts: list[tuple[_Segment | _Buffer, IntArray]] = [
            (seg, seg.alive_rows(s.version)) for seg in (s.main, *s.frozen)
        ]
        merger = threading.Thread(target=self._merge, args=(s, parts), name="haven-index-merge", daemon=True)
        merger.start()  # it needs the lock we hold to finish, so it cannot end before the next line
        self._merger = merger

    def _merge(self, base: _State, parts: list[tuple[_Segment | _Buffer, IntArray]]) -> None:
        try:
            main = _Segment.build(*_gather(parts))
        except BaseException as e:  # e.g. MemoryError: the frozen deltas stay searchable; retried later
            with self._lock:
                self._merge_error = e
                self._merger = None
            return
        with self._lock:
            self._merger = None
            s = self._state
            merged = (base.main, *base.frozen)
            if (
                s.main is not base.main
                or len(s.frozen) < len(base.frozen)
                or any(a is not b for a, b in zip(s.frozen, base.frozen, strict=False))
            ):
                return  # a synchronous rebuild overtook this merge: drop it
            # Removals that happened while the merge ran still apply.
            for seg in merged:
                late = [row for row, v in seg.dead.items() if v > base.version]
                for i in seg.ids.take(np.array(late, dtype=np.intp)).tolist():
                    row = main.find(i, s.version)
                    if row is not None:
                        main.dead[row] = s.version
            self._publish(s.but(main=main, frozen=s.frozen[len(base.frozen) :], version=s.version + 1))

    def _wait_for_merge(self) -> None:
        while (merger := self._merger) is not None:
            merger.join()

    def _search_many(self, qw: Words, radius: int) -> list[list[Match]]:
        s = self._state  # one read: everything below answers from this state
        out: list[list[Match]] = []
        for start in range(0, qw.shape[0], _QUERY_BATCH):
            batch = qw[start : start + _QUERY_BATCH]
            qc = _chunks(batch)
            qs, ids, ds = [], [], []
            for seg in s.segments:
                if seg.n:
                    q, rows, d = _drop_dead(seg.search(batch, qc, radius), seg.dead, s.version)
                    qs.append(q)
                    ids.append(seg.ids.take(rows))
                    ds.append(d)
            q, rows, d = _drop_dead(s.buffer.search(batch, s.buffer_len, radius), s.buffer.dead, s.version)
            q_all = np.concatenate([*qs, q])
            id_all = np.concatenate([*ids, s.buffer.ids.take(rows)])
            d_all = np.concatenate([*ds, d])
            order = np.lexsort((id_all, d_all, q_all))
            bounds = np.searchsorted(q_all.take(order), np.arange(batch.shape[0] + 1))
            ids_list = id_all.take(order).tolist()
            d_list = d_all.take(order).tolist()
            for k in range(batch.shape[0]):
                lo, hi = int(bounds[k]), int(bounds[k + 1])
                out.append([Match(d, i) for d, i in zip(d_list[lo:hi], ids_list[lo:hi], strict=True)])
        return out


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise IndexFileError(f"not a valid Haven index file: {message}")


# -- the file container: a JSON header, then 4096-aligned raw arrays -----------


def _write_container(
    path: Path, kind: str, meta: dict[str, Any], arrays: dict[str, np.ndarray[Any, Any]]
) -> None:
    entries: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        entries[name] = {
            "dtype": a.dtype.str,
            "shape": list(a.shape),
            "offset": offset,
            "nbytes": a.nbytes,
            "crc32": zlib.crc32(a.data.cast("B")) if a.nbytes else 0,
        }
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    header = {"format": _FORMAT, "version": _FORMAT_VERSION, "kind": kind, "meta": meta, "arrays": entries}
    body = json.dumps(header, sort_keys=True).encode()
    head_len = -(-(len(_MAGIC) + 12 + len(body)) // _ALIGN) * _ALIGN
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(_MAGIC)
        f.write(len(body).to_bytes(8, "little"))
        f.write(zlib.crc32(body).to_bytes(4, "little"))
        f.write(body)
        f.write(b"\0" * (head_len - f.tell()))
        for name, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            f.seek(head_len + entries[name]["offset"])
            if a.nbytes:
                f.write(a.data.cast("B"))
        f.truncate(head_len + offset)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_container(path: Path, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]]]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            magic = f.read(len(_MAGIC))
            if magic != _MAGIC:
                raise IndexFileError(f"{path} is not a Haven index file")
            prefix = f.read(12)
            if len(prefix) < 12:
                raise IndexFileError(f"{path} is truncated (no header)")
            body_len = int.from_bytes(prefix[:8], "little")
            if body_len > size:
                raise IndexFileError(f"{path} is truncated (header runs past the end)")
            body = f.read(body_len)
    except OSError as e:
        raise IndexFileError(f"cannot read {path}: {e.strerror or e}") from e
    if len(body) != body_len or zlib.crc32(body) != int.from_bytes(prefix[8:], "little"):
        raise IndexFileError(f"{path} has a damaged header")
    try:
        header = json.loads(body)
    except ValueError as e:
        raise IndexFileError(f"{path} has a damaged header") from e
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise IndexFileError(f"{path} is not a Haven index file")
    if header.get("version") != _FORMAT_VERSION:
        raise IndexFileError(
            f"{path} uses index format version {header.get('version')!r}; "
            f"this Haven reads version {_FORMAT_VERSION}"
        )
    if header.get("kind") != kind:
        raise IndexFileError(f"{path} holds a {header.get('kind')!r} index, not a {kind!r} one")
    head_len = -(-(len(_MAGIC) + 12 + body_len) // _ALIGN) * _ALIGN
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    try:
        for name, entry in header["arrays"].items():
            dtype, shape = np.dtype(entry["dtype"]), tuple(int(x) for x in entry["shape"])
            nbytes = int(entry["nbytes"])
            start = head_len + int(entry["offset"])
            if math.prod(shape) * dtype.itemsize != nbytes or start < head_len:
                raise IndexFileError(f"{path}: array {name} is described inconsistently")
            if start + nbytes > size:
                raise IndexFileError(f"{path} is truncated (array {name} runs past the end)")
            if nbytes == 0:
                arr: np.ndarray[Any, Any] = np.empty(shape, dtype=dtype)
            else:
                arr = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape)
                if zlib.crc32(arr.data.cast("B")) != int(entry["crc32"]):
                    raise IndexFileError(f"{path} is corrupt (array {name} fails its checksum)")
            arrays[name] = arr
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, IndexFileError):
            raise
        raise IndexFileError(f"{path} has a malformed header: {err}") from err
    meta = header.get("meta")
    return (meta if isinstance(meta, dict) else {}), arrays


# -- digests -------------------------------------------------------------------

D = TypeVar("D", Md5, Sha256)


class DigestIndex(Generic[D]):
    """Exact matches of MD5 or SHA-256 digests, with :class:`HammingIndex`'s shape.

    An index holds one kind of digest, fixed when it is made -
    ``DigestIndex(Sha256)`` - and refuses the other kind with a TypeError (an MD5
    and a SHA-256 can never match each other, so mixing them is always a bug).
    Each id holds one digest; several ids may hold the same digest, and a query
    returns all of them (``Match.distance`` is always 0), sorted by id.  Same
    rules as :class:`HammingIndex`: duplicate ids raise :class:`DuplicateIdError`,
    removing an absent id raises KeyError, one writer and many readers.
    """

    def __init__(self, kind: type[D]) -> None:
        if kind not in (Md5, Sha256):
            raise TypeError("DigestIndex holds Md5 or Sha256 digests")
        self.kind: type[D] = kind
        self._lock = threading.Lock()
        # digest -> ids holding it (tuples are replaced, never changed, so a reader
        # that fetched one sees one consistent state).
        self._by_digest: dict[bytes, tuple[int, ...]] = {}
        self._by_id: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, id_: object) -> bool:
        return not isinstance(id_, bool) and id_ in self._by_id

    def __repr__(self) -> str:
        return f"<DigestIndex of {len(self)} {self.kind.name} digests>"

    def _digest(self, d: object) -> bytes:
        if type(d) is not self.kind or not isinstance(d, Md5 | Sha256):
            raise TypeError(f"this index holds {self.kind.name} digests, not {type(d).__name__}")
        return d.digest

    def add(self, id_: int, digest: D) -> None:
        i, key = _check_id(id_), self._digest(digest)
        with self._lock:
            if i in self._by_id:
                raise DuplicateIdError(f"id {i} is already in the index")
            self._insert(i, key)

    def add_many(self, ids: Iterable[int], digests: Iterable[D]) -> None:
        id_list = [_check_id(i) for i in ids]
        keys = [self._digest(d) for d in digests]
        if len(id_list) != len(keys):
            raise ValueError(f"{len(id_list)} ids but {len(keys)} digests")
        if len(set(id_list)) != len(id_list):
            raise DuplicateIdError("the same id appears more than once in the batch")
        with self._lock:
            clash = [i for i in id_list if i in self._by_id]
            if clash:
                raise DuplicateIdError(f"{len(clash)} of the ids are already in the index, e.g. {clash[0]}")
            for i, key in zip(id_list, keys, strict=True):
                self._insert(i, key)

    def _insert(self, i: int, key: bytes) -> None:
        self._by_digest[key] = (*self._by_digest.get(key, ()), i)
        self._by_id[i] = key

    def remove(self, id_: int) -> None:
        i = _check_id(id_)
        with self._lock:
            key = self._by_id.pop(i)
            rest = tuple(x for x in self._by_digest[key] if x != i)
            if rest:
                self._by_digest[key] = rest
            else:
                del self._by_digest[key]

    def query(self, digest: D) -> list[Match]:
        return [Match(0, i) for i in sorted(self._by_digest.get(self._digest(digest), ()))]

    def query_many(self, digests: Iterable[D]) -> list[list[Match]]:
        return [self.query(d) for d in digests]

    def save(self, path: str | os.PathLike[str]) -> None:
        with self._lock:
            items = sorted(self._by_id.items())
        ids = np.array([i for i, _ in items], dtype=np.int64)
        digests = np.frombuffer(b"".join(k for _, k in items), dtype=np.uint8).reshape(-1, self.kind.size)
        _write_container(Path(path), "digest", {"digest": self.kind.name}, {"ids": ids, "digests": digests})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DigestIndex[Any]:
        meta, arrays = _read_container(Path(path), "digest")
        kinds: dict[str, type[Md5] | type[Sha256]] = {"md5": Md5, "sha256": Sha256}
        kind = kinds.get(str(meta.get("digest")))
        if kind is None:
            raise IndexFileError(f"{path}: unknown digest kind {meta.get('digest')!r}")
        ids, digests = arrays["ids"], arrays["digests"]
        _expect(ids.dtype == np.int64 and ids.ndim == 1, "ids must be int64")
        _expect(digests.dtype == np.uint8 and digests.shape == (ids.shape[0], kind.size), "bad digest array")
        index: DigestIndex[Any] = cls(kind)  # type: ignore[arg-type]
        raw = digests.tobytes()
        try:
            index.add_many(
                ids.tolist(), [kind(raw[k * kind.size : (k + 1) * kind.size]) for k in range(ids.size)]
            )
        except (ValueError, TypeError) as e:
            raise IndexFileError(f"{path}: {e}") from e
        return index
