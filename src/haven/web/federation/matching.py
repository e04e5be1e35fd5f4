"""The banks imported from peer centres, matched by lookups, scans and evidence capture.

One :class:`ImportedIndex` per process, kept in step with the database through
:class:`~haven.web.federation.models.ImportChange` exactly as the case content index is: a
tombstone that a fetch applied takes effect for the very next lookup in every process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db.models import Max, Q

from haven.scan import BankEntry
from haven.web.cases.matching import Hit, SignalIndex
from haven.web.monitoring.bank import bank_entries

from .models import ImportChange, ImportedItem

CONTENT_PREFIX = "imported:"
"""A scan's bank names an imported item ``imported:<id>`` (and its peer ``peer:<id>`` as the case),
so that the review queue can tell it from a case's own content."""


class ImportedIndex(SignalIndex):
    name = "imported"

    def _latest_version(self) -> int:
        return int(ImportChange.objects.aggregate(v=Max("version"))["v"] or 0)

    def _changes(self, floor: int, gaps: Sequence[int] = ()) -> Iterable[tuple[int, int]]:
        wanted = Q(version__gt=floor) | Q(version__in=gaps) if gaps else Q(version__gt=floor)
        return ImportChange.objects.filter(wanted).values_list("version", "item_id")

    def _current(self, item_ids: set[int]) -> dict[int, Any]:
        return ImportedItem.objects.in_bulk(list(item_ids))

    def _everything(self) -> Iterable[Any]:
        # Rows as named tuples, not model instances: a large bank loads several times faster.
        fields = ("pk", "organisation_id", "pdq", "md5", "video_frames", "extra")
        return ImportedItem.objects.values_list(*fields, named=True).iterator()


_INDEX: ImportedIndex | None = None
_INDEX_LOCK = threading.Lock()


def imported_index() -> ImportedIndex:
    global _INDEX
    with _INDEX_LOCK:
        if _INDEX is None:
            _INDEX = ImportedIndex()
        return _INDEX


def loaded_imported_index() -> ImportedIndex | None:
    """The process's index if a lookup has made it (health checks must not load one)."""
    return _INDEX


def reset_imported_index(**_: Any) -> None:
    global _INDEX
    with _INDEX_LOCK:
        _INDEX = None


def lookup(organisation_id: int, **query: Any) -> list[tuple[Hit, ImportedItem]]:
    """Imported items of ``organisation_id``'s peers matching the query (``ContentIndex.lookup``'s
    arguments), each with its item (attributed to its peer)."""
    hits = imported_index().lookup(organisation_id, **query)
    items = ImportedItem.objects.select_related("peer").in_bulk([h.item_id for h in hits])
    return [(h, items[h.item_id]) for h in hits if h.item_id in items]


class ImportedBank:
    """:class:`haven.scan.BankReader` over an organisation's imported banks."""

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def read_bank(self) -> Iterator[BankEntry]:
        items = ImportedItem.objects.filter(organisation_id=self.organisation_id).only(
            "pk", "peer_id", "pdq", "quality", "md5", "video_frames", "extra"
        )
        for item in items.iterator():
            yield from bank_entries(item, f"{CONTENT_PREFIX}{item.pk}", f"peer:{item.peer_id}")


def imported_item_id(content_id: str) -> int | None:
    """The imported item a scan candidate names, or None for a case's own content."""
    if not content_id.startswith(CONTENT_PREFIX):
        return None
    try:
        return int(content_id[len(CONTENT_PREFIX) :])
    except ValueError:
        return None
