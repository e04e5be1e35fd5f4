"""The process's matching index over the content of cases that consent to monitoring.

Each server process keeps one :class:`ContentIndex`: in its own memory, or, where several
processes serve (``haven serve --workers``), as a memory-mapped snapshot they all share plus the
items changed since (:mod:`haven.web.cases.snapshot`).  Every write that can
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
out of order when transactions commit out of order, so each replay also asks again for
the versions of a trailing window of :data:`LOOKBACK` that it has not seen yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from django.db.models import Max, Q

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

from . import snapshot
from .models import ConsentRecord, ConsentScope, ContentItem, IndexChange
from .snapshot import Entry, Snapshot

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


def _frames(item: Any) -> list[PdqHash]:
    return [
        PdqHash.from_hex(hex_)
        for _frame, quality, hex_, _seconds in item.video_frames or ()
        if quality >= VIDEO_QUALITY_FLOOR
    ]


def entry(item: Any) -> Entry:
    """What an index keeps of one item."""
    sha256 = getattr(item, "sha256", "")  # imported items carry none
    return Entry(
        item_id=item.pk,
        organisation_id=item.organisation_id,
        pdq=PdqHash.from_hex(item.pdq) if item.pdq else None,
        md5=Md5.from_hex(item.md5) if item.md5 else None,
        sha256=Sha256.from_hex(sha256) if sha256 else None,
        frames=_frames(item),
        extra=[(s.kind, s.hash) for s in extra_signals(item)],
    )


class _Memory:
    """Items indexed in this process's own memory: every item when no snapshot is in use, else
    only those changed since the snapshot.  Asked the same questions as a
    :class:`~haven.web.cases.snapshot.Snapshot`."""

    def __init__(self) -> None:
        self.pdq = HammingIndex()
        self.md5: DigestIndex[Md5] = DigestIndex(Md5)
        self.sha256: DigestIndex[Sha256] = DigestIndex(Sha256)
        self.organisation: dict[int, int] = {}
        # A video's frames live in their own index under synthetic ids, several per item.
        self.frames = HammingIndex()
        self.frame_item: dict[int, int] = {}
        self.item_frames: dict[int, list[int]] = {}
        self.next_frame_id = 1
        # A photo's robust signals likewise: synthetic id -> (item, kind).
        self.extra = HammingIndex()
        self.extra_owner: dict[int, tuple[int, str]] = {}
        self.item_extra: dict[int, list[int]] = {}
        self.next_extra_id = 1

    def __len__(self) -> int:
        return len(self.organisation)

    def put(self, e: Entry, batch: _Batch | None = None) -> None:
        """Index one item; with ``batch``, its PDQ-like hashes wait there for :meth:`flush` (a
        whole bank is added in one step per index)."""
        pending = batch if batch is not None else _Batch()
        if e.pdq is not None:
            pending.pdq.append((e.item_id, e.pdq))
        if e.md5 is not None:
            self.md5.add(e.item_id, e.md5)
        if e.sha256 is not None:
            self.sha256.add(e.item_id, e.sha256)
        frame_ids = []
        for h in e.frames:
            frame_id = self.next_frame_id
            self.next_frame_id += 1
            pending.frames.append((frame_id, h))
            self.frame_item[frame_id] = e.item_id
            frame_ids.append(frame_id)
        if frame_ids:
            self.item_frames[e.item_id] = frame_ids
        extra_ids = []
        for kind, h in e.extra:
            extra_id = self.next_extra_id
            self.next_extra_id += 1
            pending.extra.append((extra_id, h))
            self.extra_owner[extra_id] = (e.item_id, kind)
            extra_ids.append(extra_id)
        if extra_ids:
            self.item_extra[e.item_id] = extra_ids
        self.organisation[e.item_id] = e.organisation_id
        if batch is None:
            self.flush(pending)

    def flush(self, batch: _Batch) -> None:
        for index, pairs in ((self.pdq, batch.pdq), (self.frames, batch.frames), (self.extra, batch.extra)):
            if len(pairs) == 1:  # a replayed change: add() costs a third of add_many() for one hash
                index.add(*pairs[0])
            elif pairs:
                ids, hashes = zip(*pairs, strict=True)
                index.add_many(list(ids), list(hashes))

    def drop(self, item_id: int) -> None:
        if item_id not in self.organisation:
            return
        for index in (self.pdq, self.md5, self.sha256):
            if item_id in index:
                index.remove(item_id)
        for frame_id in self.item_frames.pop(item_id, ()):
            self.frames.remove(frame_id)
            del self.frame_item[frame_id]
        for extra_id in self.item_extra.pop(item_id, ()):
            self.extra.remove(extra_id)
            del self.extra_owner[extra_id]
        del self.organisation[item_id]

    # --- what the lookups ask ---

    def owner(self, item_id: int) -> int | None:
        return self.organisation.get(item_id)

    def whole(self, h: PdqHash, radius: int) -> list[tuple[int, int]]:
        return [(m.id, m.distance) for m in self.pdq.query(h, radius)]

    def whole_many(self, hashes: Sequence[PdqHash], radius: int) -> list[list[tuple[int, int]]]:
        return [[(m.id, m.distance) for m in found] for found in self.pdq.query_many(list(hashes), radius)]

    def frames_of(self, h: PdqHash, radius: int) -> list[tuple[int, int]]:
        return [(self.frame_item[m.id], m.distance) for m in self.frames.query(h, radius)]

    def crops(self, hashes: Sequence[PdqHash], radius: int) -> list[list[tuple[int, str, int]]]:
        if not len(self.extra):
            return [[] for _ in hashes]
        return [
            [(*self.extra_owner[m.id], m.distance) for m in found]
            for found in self.extra.query_many(list(hashes), radius)
        ]

    def digests(self, digest: Md5 | Sha256) -> list[int]:
        index: DigestIndex[Any] = self.md5 if isinstance(digest, Md5) else self.sha256
        return [m.id for m in index.query(digest)]


_Layer = _Memory | Snapshot
_NONE: frozenset[int] = frozenset()

MAX_GAPS = 200
"""Above this many unseen versions in the trailing window, a sync reads the whole window instead."""
SNAPSHOT_CHECK_SECONDS = 30.0
"""How often a process looks for a newer snapshot than the one it maps."""
APPLY_BATCH = 2000
"""Changed items read from the database at a time when replaying (a stale process can have many)."""


class SignalIndex:
    """Hash indexes over a table of hashed items, kept in step with the database by a change log.

    Subclasses say where the items and their changes live (:meth:`_latest_version`,
    :meth:`_changes`, :meth:`_current`, :meth:`_everything`); an item is anything with ``pk``,
    ``organisation_id``, ``pdq``, ``md5``, ``sha256``, ``video_frames`` and ``extra``.  The
    content of cases is one such table (:class:`ContentIndex`); the banks a centre imports from
    other centres are another.

    Where a snapshot of the index exists (``haven index snapshot``; ``haven serve --workers``
    writes and refreshes them), the process maps it instead of loading every item, and keeps in
    memory only the items changed since: their snapshot entries are masked (``_dirty``).
    """

    name: ClassVar[str]
    """What the metrics and the snapshot directory call it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._seen: set[int] = set()
        self._memory = _Memory()
        self._snapshot: Snapshot | None = None
        self._dirty: set[int] = set()
        self._masked = 0  # how many of the dirty items the snapshot holds
        self._looked_at = 0.0

    def __len__(self) -> int:
        mapped = self._snapshot.count - self._masked if self._snapshot is not None else 0
        return len(self._memory) + mapped

    @property
    def loaded(self) -> bool:
        """Whether the first lookup has loaded the index yet."""
        return self._version >= 0

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def lag(self) -> int:
        """How many versions the database's change log is ahead of this index."""
        return max(0, self._latest_version() - self._version) if self.loaded else 0

    # --- where the items live (subclasses) ---

    def _latest_version(self) -> int:
        raise NotImplementedError

    def _changes(self, floor: int, gaps: Sequence[int] = ()) -> Iterable[tuple[int, int]]:
        """(version, item id) of every change above ``floor``, and of those among ``gaps``."""
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
        newer = self._newer_snapshot()
        if newer is not None:
            self._use(newer)
        elif self._version < 0:
            self._version = self._latest_version()
            self._load_all()
            return
        floor = max(0, self._version - LOOKBACK)
        # Versions of the trailing window not seen yet: a transaction that took its version
        # earlier may commit after later ones (or may have rolled back and left a hole).  Asking
        # for those and for what is newer reads only new rows, not the whole window each time.
        gaps = [v for v in range(floor + 1, self._version + 1) if v not in self._seen]
        changes = self._changes(floor) if len(gaps) > MAX_GAPS else self._changes(self._version, gaps)
        fresh = [(v, item) for v, item in changes if v not in self._seen and v > floor]
        if not fresh:
            return
        self._apply({item for _, item in fresh})
        self._seen.update(v for v, _ in fresh)
        self._version = max(self._version, max(v for v, _ in fresh))
        floor = max(0, self._version - LOOKBACK)
        self._seen = {v for v in self._seen if v > floor}

    def _newer_snapshot(self) -> Snapshot | None:
        """A snapshot newer than the one in use (checked on the first sync, then every
        :data:`SNAPSHOT_CHECK_SECONDS`), or None."""
        now = time.monotonic()
        if self.loaded and now - self._looked_at < SNAPSHOT_CHECK_SECONDS:
            return None
        self._looked_at = now
        current = self._snapshot.version if self._snapshot is not None else -1
        if (snapshot.latest_version(self.name) or -1) <= current:
            return None
        found = snapshot.open_latest(self.name)
        return found if found is not None and found.version > current else None

    def _use(self, found: Snapshot) -> None:
        """Answer from ``found`` from now on; the changes after it are replayed by the caller."""
        self._snapshot = found
        self._memory = _Memory()
        self._dirty = set()
        self._masked = 0
        self._version = found.version
        self._seen = set(found.seen)

    def _load_all(self) -> None:
        # Changes up to the version read before loading are reflected in the load; later ones
        # (and ones that commit late inside the window) are replayed by sync().
        self._seen = {v for v, _ in self._changes(max(0, self._version - LOOKBACK))}
        # The first lookup of a process waits for this: the Hamming indexes take the whole bank
        # in one batch each (a quarter of the time of adding hashes one at a time).
        batch = _Batch()
        for item in self._everything():
            self._memory.put(entry(item), batch)
        self._memory.flush(batch)

    def _apply(self, item_ids: set[int]) -> None:
        ordered = sorted(item_ids)
        for start in range(0, len(ordered), APPLY_BATCH):
            chunk = set(ordered[start : start + APPLY_BATCH])
            current = self._current(chunk)
            if self._snapshot is not None:
                newly = chunk - self._dirty
                self._masked += self._snapshot.holds(newly)
                self._dirty |= newly
            for item_id in chunk:
                self._memory.drop(item_id)
                item = current.get(item_id)
                if item is not None:
                    self._memory.put(entry(item))

    def write_snapshot(self) -> Path:
        """Write a snapshot of the table as the database has it now, for every process to map.

        It is taken as a full load is: the change-log version first, then every item, so that a
        change committed meanwhile is replayed on top by whoever maps it."""
        version = self._latest_version()
        seen = {v for v, _ in self._changes(max(0, version - LOOKBACK))}
        return snapshot.write(self.name, version, seen, (entry(item) for item in self._everything()))

    def _layers(self) -> list[tuple[_Layer, AbstractSet[int]]]:
        """Where matches come from, each with the items whose entries there are stale."""
        layers: list[tuple[_Layer, AbstractSet[int]]] = [(self._memory, _NONE)]
        if self._snapshot is not None:
            layers.append((self._snapshot, self._dirty))
        return layers

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
            layers = self._layers()
            hits = self._lookup_locked(layers, organisation_id, pdq, md5, sha256, radius)
            for n, signals in enumerate(pictures):
                hits.extend(self._robust_locked(layers, organisation_id, n, signals, radius))
            return hits

    @staticmethod
    def _robust_locked(
        layers: list[tuple[_Layer, AbstractSet[int]]],
        organisation_id: int,
        query: int,
        signals: Sequence[QuerySignal],
        radius: int,
    ) -> list[Hit]:
        """The rules of :class:`haven.signals.RobustMatcher` over this index.

        The stored whole-picture PDQ is matched by candidates that may match every kind (or
        ``pdq``), a stored crop signal only by candidates for its kind; each kind has its own
        threshold.  A video's frames are not matched here: a frame is no photo's crop.
        """
        limit = {kind: min(radius, threshold) for kind, threshold in THRESHOLDS.items()}
        widest = max(limit.values())
        best: dict[int, Hit] = {}
        for layer, stale in layers:

            def keep(item_id: int, distance: int, kind: str, candidate: str) -> None:
                if item_id in stale or layer.owner(item_id) != organisation_id:  # noqa: B023 - used at once
                    return
                old = best.get(item_id)
                if old is None or distance < old.distance:
                    best[item_id] = Hit(query, item_id, distance, "picture", kind, candidate)

            for signal in signals:
                targets = signal.targets
                hashes = list(signal.hashes)
                if targets is None or WHOLE in targets:
                    for found in layer.whole_many(hashes, limit[WHOLE]):
                        for item_id, distance in found:
                            keep(item_id, distance, WHOLE, signal.candidate)
                for crops in layer.crops(hashes, widest):
                    for item_id, kind, distance in crops:
                        if distance > limit.get(kind, -1) or (targets is not None and kind not in targets):
                            continue
                        keep(item_id, distance, kind, signal.candidate)
        return list(best.values())

    @staticmethod
    def _lookup_locked(
        layers: list[tuple[_Layer, AbstractSet[int]]],
        organisation_id: int,
        pdq: Sequence[PdqHash],
        md5: Sequence[Md5],
        sha256: Sequence[Sha256],
        radius: int,
    ) -> list[Hit]:
        hits: list[Hit] = []
        for n, h in enumerate(pdq):
            # An item is one hit per query: a video's best frame stands for the video.
            best: dict[int, int] = {}
            for layer, stale in layers:
                for item_id, distance in (*layer.whole(h, radius), *layer.frames_of(h, radius)):
                    if item_id in stale or layer.owner(item_id) != organisation_id:
                        continue
                    best[item_id] = min(distance, best.get(item_id, distance))
            hits.extend(Hit(n, item_id, distance, "pdq") for item_id, distance in best.items())
        queries: list[tuple[str, Sequence[Md5 | Sha256]]] = [("md5", md5), ("sha256", sha256)]
        for kind, digests in queries:
            for n, digest in enumerate(digests):
                for layer, stale in layers:
                    hits.extend(
                        Hit(n, item_id, 0, kind)
                        for item_id in layer.digests(digest)
                        if item_id not in stale and layer.owner(item_id) == organisation_id
                    )
        return hits


class ContentIndex(SignalIndex):
    """The content of cases that consent to monitoring (see the module's docstring)."""

    name = "content"

    def _latest_version(self) -> int:
        return int(IndexChange.objects.aggregate(v=Max("version"))["v"] or 0)

    def _changes(self, floor: int, gaps: Sequence[int] = ()) -> Iterable[tuple[int, int]]:
        wanted = Q(version__gt=floor) | Q(version__in=gaps) if gaps else Q(version__gt=floor)
        return IndexChange.objects.filter(wanted).values_list("version", "content_item_id")

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
