"""The process's matching index over the content of cases that consent to monitoring.

Each server process keeps one :class:`ContentIndex` in memory.  Every write that can
change what should match (content added or removed, monitoring consent granted or
withdrawn) appends :class:`~haven.web.cases.models.IndexChange` rows in the same
transaction; before a process answers a lookup it replays the rows it has not seen,
so a withdrawal or a new hash takes effect for the very next lookup in every process.

Besides the whole-picture PDQ, a photo's robust signals (``ContentItem.extra``: the PDQ
of fixed crops) are indexed, so that a lookup with query signals applies the rules of
:class:`haven.signals.RobustMatcher`: a threshold per signal kind, a crop kind matched
only by a query candidate for that kind.  They leave the index with the item's other
hashes (withdrawal, removal, "delete my data").

Replaying is idempotent: for each changed item the desired state (present with its
hashes, or absent) is recomputed from the database.  Versions can become visible
out of order when transactions commit out of order, so each replay re-reads a
trailing window of :data:`LOOKBACK` versions as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db.models import Max

from haven.signals import (
    QUALITY_FLOOR,
    THRESHOLDS,
    WHOLE,
    DigestIndex,
    HammingIndex,
    Md5,
    PdqHash,
    QuerySignal,
    Sha256,
    Signal,
)
from haven.web.core.metrics import LOOKUP_SECONDS

from .models import ConsentRecord, ConsentScope, ContentItem, IndexChange

LOOKBACK = 1000

# Frames below this PDQ quality (blank, flat or dark frames) would match unrelated videos;
# vPDQ leaves them out of matching for the same reason.
VIDEO_QUALITY_FLOOR = 50


@dataclass(frozen=True)
class Hit:
    query: int
    """Position of the query hash in the request."""
    item_id: int
    distance: int
    kind: str
    """"pdq", "md5" or "sha256"; "picture" for a query picture's signals."""
    signal: str = ""
    """For a query picture: the kind of the stored signal that matched ("pdq" or a crop kind)."""
    candidate: str = ""
    """For a query picture: the name of the query signal that matched."""


@dataclass(frozen=True)
class ForeignHit:
    """A lookup's match in a bank that is not the organisation's own cases (an imported bank)."""

    hit: Hit
    centre: str
    item: str
    kind: str
    reported: bool = False


ForeignLookup = Callable[..., list[ForeignHit]]
FOREIGN_LOOKUPS: list[ForeignLookup] = []
"""Banks a lookup also searches besides the organisation's cases: apps built on cases (federation's
imported banks) append a function from ``AppConfig.ready``, so that cases never imports them.  It is
called with ``actor``, ``organisation_id``, ``url`` and the index's lookup arguments."""


def extra_signals(item: Any) -> list[Signal]:
    """A photo's stored robust crop signals (``item.extra``), those below the quality floor left out."""
    out = []
    for entry in item.extra or ():
        quality = entry.get("quality", QUALITY_FLOOR)
        if quality >= QUALITY_FLOOR:
            out.append(Signal(entry["kind"], PdqHash.from_hex(entry["pdq"]), quality))
    return out


def _monitored_cases(case_ids: Iterable[int]) -> set[int]:
    latest: dict[int, bool] = {}
    records = (
        ConsentRecord.objects.filter(case_id__in=list(case_ids), scope=ConsentScope.MONITOR)
        .order_by("recorded_at", "id")
        .values_list("case_id", "granted")
    )
    for case_id, granted in records:
        latest[case_id] = granted
    return {case_id for case_id, granted in latest.items() if granted}


@dataclass
class _Batch:
    """Hashes waiting to be added to the Hamming indexes in one step each: (id, hash) pairs."""

    pdq: list[tuple[int, PdqHash]] = field(default_factory=list)
    frames: list[tuple[int, PdqHash]] = field(default_factory=list)
    extra: list[tuple[int, PdqHash]] = field(default_factory=list)


class SignalIndex:
    """Hash indexes over a table of hashed items, kept in step with the database by a change log.

    Subclasses say where the items and their changes live (:meth:`_latest_version`,
    :meth:`_changes`, :meth:`_current`, :meth:`_everything`); an item is anything with ``pk``,
    ``organisation_id``, ``pdq``, ``md5``, ``sha256``, ``video_frames`` and ``extra``.  The
    content of cases is one such table (:class:`ContentIndex`); the banks a centre imports from
    other centres are another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._seen: set[int] = set()
        self._pdq = HammingIndex()
        self._md5: DigestIndex[Md5] = DigestIndex(Md5)
        self._sha256: DigestIndex[Sha256] = DigestIndex(Sha256)
        self._organisation: dict[int, int] = {}
        # A video's frames live in their own index under synthetic ids, several per item.
        self._frames = HammingIndex()
        self._frame_item: dict[int, int] = {}
        self._item_frames: dict[int, list[int]] = {}
        self._next_frame_id = 1
        # A photo's robust signals likewise: synthetic id -> (item, kind).
        self._extra = HammingIndex()
        self._extra_owner: dict[int, tuple[int, str]] = {}
        self._item_extra: dict[int, list[int]] = {}
        self._next_extra_id = 1

    name: ClassVar[str]
    """What the metrics call it."""

    def __len__(self) -> int:
        return len(self._organisation)

    @property
    def loaded(self) -> bool:
        """Whether the first lookup has loaded the index yet."""
        return self._version >= 0

    def lag(self) -> int:
        """How many versions the database's change log is ahead of this index."""
        return max(0, self._latest_version() - self._version) if self.loaded else 0

    # --- where the items live (subclasses) ---

    def _latest_version(self) -> int:
        raise NotImplementedError

    def _changes(self, floor: int) -> Iterable[tuple[int, int]]:
        """(version, item id) of every change above ``floor``."""
        raise NotImplementedError

    def _current(self, item_ids: set[int]) -> dict[int, Any]:
        """The items among ``item_ids`` that should be in the index now (absent ones leave it)."""
        raise NotImplementedError

    def _everything(self) -> Iterable[Any]:
        """Every item that should be in the index now."""
        raise NotImplementedError

    # --- keeping up ---

    def sync(self) -> None:
        """Bring the index up to the database's latest committed changes."""
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._version < 0:
            self._version = self._latest_version()
            self._load_all()
            return
        floor = max(0, self._version - LOOKBACK)
        fresh = [(v, item) for v, item in self._changes(floor) if v not in self._seen and v > floor]
        if not fresh:
            return
        self._apply({item for _, item in fresh})
        self._seen.update(v for v, _ in fresh)
        self._version = max(self._version, max(v for v, _ in fresh))
        floor = max(0, self._version - LOOKBACK)
        self._seen = {v for v in self._seen if v > floor}

    def _load_all(self) -> None:
        # Changes up to the version read before loading are reflected in the load; later ones
        # (and ones that commit late inside the window) are replayed by sync().
        self._seen = {v for v, _ in self._changes(max(0, self._version - LOOKBACK))}
        # The first lookup of a process waits for this: the Hamming indexes take the whole bank
        # in one batch each (a quarter of the time of adding hashes one at a time).
        batch = _Batch()
        for item in self._everything():
            self._put(item, batch)
        self._flush(batch)

    def _apply(self, item_ids: set[int]) -> None:
        if not item_ids:
            return
        current = self._current(item_ids)
        for item_id in item_ids:
            self._drop(item_id)
            item = current.get(item_id)
            if item is not None:
                self._put(item)

    def _put(self, item: Any, batch: _Batch | None = None) -> None:
        """Index one item; with ``batch``, its PDQ-like hashes wait there for :meth:`_flush` (a
        whole bank is added in one step per index)."""
        pending = batch if batch is not None else _Batch()
        if item.pdq:
            pending.pdq.append((item.pk, PdqHash.from_hex(item.pdq)))
        if item.md5:
            self._md5.add(item.pk, Md5.from_hex(item.md5))
        sha256 = getattr(item, "sha256", "")  # imported items carry none
        if sha256:
            self._sha256.add(item.pk, Sha256.from_hex(sha256))
        frame_ids = []
        for _frame, quality, hex_, _seconds in item.video_frames or ():
            if quality < VIDEO_QUALITY_FLOOR:
                continue
            frame_id = self._next_frame_id
            self._next_frame_id += 1
            pending.frames.append((frame_id, PdqHash.from_hex(hex_)))
            self._frame_item[frame_id] = item.pk
            frame_ids.append(frame_id)
        if frame_ids:
            self._item_frames[item.pk] = frame_ids
        extra_ids = []
        for signal in extra_signals(item):
            extra_id = self._next_extra_id
            self._next_extra_id += 1
            pending.extra.append((extra_id, signal.hash))
            self._extra_owner[extra_id] = (item.pk, signal.kind)
            extra_ids.append(extra_id)
        if extra_ids:
            self._item_extra[item.pk] = extra_ids
        self._organisation[item.pk] = item.organisation_id
        if batch is None:
            self._flush(pending)

    def _flush(self, batch: _Batch) -> None:
        for index, pairs in (
            (self._pdq, batch.pdq),
            (self._frames, batch.frames),
            (self._extra, batch.extra),
        ):
            if len(pairs) == 1:  # a replayed change: add() costs a third of add_many() for one hash
                index.add(*pairs[0])
            elif pairs:
                ids, hashes = zip(*pairs, strict=True)
                index.add_many(list(ids), list(hashes))

    def _drop(self, item_id: int) -> None:
        if item_id not in self._organisation:
            return
        for index in (self._pdq, self._md5, self._sha256):
            if item_id in index:
                index.remove(item_id)
        for frame_id in self._item_frames.pop(item_id, ()):
            self._frames.remove(frame_id)
            del self._frame_item[frame_id]
        for extra_id in self._item_extra.pop(item_id, ()):
            self._extra.remove(extra_id)
            del self._extra_owner[extra_id]
        del self._organisation[item_id]

    def lookup(
        self,
        organisation_id: int,
        *,
        pdq: Sequence[PdqHash] = (),
        md5: Sequence[Md5] = (),
        sha256: Sequence[Sha256] = (),
        pictures: Sequence[Sequence[QuerySignal]] = (),
        radius: int = 31,
    ) -> list[Hit]:
        """Content of ``organisation_id`` matching any of the hashes, best first per query.

        ``pictures``: the query signals of each suspect picture (``haven.signals.query_signals``,
        or a ``haven hash --robust`` record), matched with the robust rules; each matching
        item is one hit per picture, at its best distance.  ``radius`` also caps each kind's
        threshold for them.

        Lookups hold the index's lock: the digest indexes and the organisation map are plain
        dicts that a concurrent sync would change under an iteration.
        """
        with LOOKUP_SECONDS.labels(self.name).time(), self._lock:
            self._sync_locked()
            hits = self._lookup_locked(organisation_id, pdq, md5, sha256, radius)
            for n, signals in enumerate(pictures):
                hits.extend(self._robust_locked(organisation_id, n, signals, radius))
            return hits

    def _robust_locked(
        self, organisation_id: int, query: int, signals: Sequence[QuerySignal], radius: int
    ) -> list[Hit]:
        """The rules of :class:`haven.signals.RobustMatcher` over this index.

        The stored whole-picture PDQ is matched by candidates that may match every kind (or
        ``pdq``), a stored crop signal only by candidates for its kind; each kind has its own
        threshold.  A video's frames are not matched here: a frame is no photo's crop.
        """
        limit = {kind: min(radius, threshold) for kind, threshold in THRESHOLDS.items()}
        widest = max(limit.values())
        mine = self._organisation
        best: dict[int, Hit] = {}

        def keep(item_id: int, distance: int, kind: str, candidate: str) -> None:
            if mine.get(item_id) != organisation_id:
                return
            old = best.get(item_id)
            if old is None or distance < old.distance:
                best[item_id] = Hit(query, item_id, distance, "picture", kind, candidate)

        for signal in signals:
            targets = signal.targets
            hashes = list(signal.hashes)
            if targets is None or WHOLE in targets:
                for found in self._pdq.query_many(hashes, limit[WHOLE]):
                    for m in found:
                        keep(m.id, m.distance, WHOLE, signal.candidate)
            if not len(self._extra):
                continue
            for found in self._extra.query_many(hashes, widest):
                for m in found:
                    item_id, kind = self._extra_owner[m.id]
                    if m.distance > limit.get(kind, -1) or (targets is not None and kind not in targets):
                        continue
                    keep(item_id, m.distance, kind, signal.candidate)
        return list(best.values())

    def _lookup_locked(
        self,
        organisation_id: int,
        pdq: Sequence[PdqHash],
        md5: Sequence[Md5],
        sha256: Sequence[Sha256],
        radius: int,
    ) -> list[Hit]:
        hits: list[Hit] = []
        mine = self._organisation
        for n, h in enumerate(pdq):
            # An item is one hit per query: a video's best frame stands for the video.
            best: dict[int, int] = {}
            for m in self._pdq.query(h, radius):
                best[m.id] = m.distance
            for m in self._frames.query(h, radius):
                item_id = self._frame_item[m.id]
                best[item_id] = min(m.distance, best.get(item_id, m.distance))
            hits.extend(
                Hit(n, item_id, distance, "pdq")
                for item_id, distance in best.items()
                if mine.get(item_id) == organisation_id
            )
        for n, d5 in enumerate(md5):
            hits.extend(
                Hit(n, m.id, 0, "md5") for m in self._md5.query(d5) if mine.get(m.id) == organisation_id
            )
        for n, d256 in enumerate(sha256):
            hits.extend(
                Hit(n, m.id, 0, "sha256")
                for m in self._sha256.query(d256)
                if mine.get(m.id) == organisation_id
            )
        return hits


class ContentIndex(SignalIndex):
    """The content of cases that consent to monitoring (see the module's docstring)."""

    name = "content"

    def _latest_version(self) -> int:
        return int(IndexChange.objects.aggregate(v=Max("version"))["v"] or 0)

    def _changes(self, floor: int) -> Iterable[tuple[int, int]]:
        return IndexChange.objects.filter(version__gt=floor).values_list("version", "content_item_id")

    def _current(self, item_ids: set[int]) -> dict[int, Any]:
        items = {i.pk: i for i in ContentItem.objects.filter(pk__in=item_ids, removed_at__isnull=True)}
        monitored = _monitored_cases({i.case_id for i in items.values()})
        return {pk: item for pk, item in items.items() if item.case_id in monitored}

    def _everything(self) -> Iterable[Any]:
        items = ContentItem.objects.filter(removed_at__isnull=True)
        monitored = _monitored_cases(items.values_list("case_id", flat=True).distinct())
        return items.filter(case_id__in=monitored).iterator()


_INDEX: ContentIndex | None = None
_INDEX_LOCK = threading.Lock()


def content_index() -> ContentIndex:
    global _INDEX
    with _INDEX_LOCK:
        if _INDEX is None:
            _INDEX = ContentIndex()
        return _INDEX


def loaded_content_index() -> ContentIndex | None:
    """The process's index if a lookup has made it (health checks must not load one)."""
    return _INDEX


def reset_content_index(**_: Any) -> None:
    """Forget the process's index (tests; a database that was rebuilt underneath)."""
    global _INDEX
    with _INDEX_LOCK:
        _INDEX = None
