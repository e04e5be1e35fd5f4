"""Reading WARC files: media records as blobs, HTML records as archived pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from warcio.archiveiterator import ArchiveIterator

from ._html import extract
from ._sniff import sniff
from ._sources import Blob, Found, Page

_RECORD_TYPES: Final = ("response", "resource")
_MEDIA: Final = ("image/", "video/")


@dataclass(frozen=True, slots=True)
class _Record:
    url: str
    offset: int
    payload: bytes


def _records(
    path: str, max_bytes: int, max_records: int, report: Callable[[str, str, str], None]
) -> Iterator[_Record]:
    """Response/resource records with their payloads; corrupt ones reported and skipped."""
    compressed = path.endswith(".gz")
    marker = b"\x1f\x8b\x08" if compressed else b"WARC/1."
    with open(path, "rb") as handle:
        start = 0
        count = 0
        reported = False  # one report per corrupt stretch, however many restarts it takes
        while True:
            handle.seek(start)
            iterator = ArchiveIterator(handle, arc2warc=True)
            last_end = start
            progressed = False
            try:
                for record in iterator:
                    if record.rec_type is None or record.length is None:
                        # warcio would read such a "record" to the end of the file.
                        raise ValueError("a record without a WARC-Type or Content-Length")
                    progressed = True
                    count += 1
                    if count > max_records:
                        report(path, "limit", f"{path}: stopped after {max_records:,} records.")
                        return
                    payload = url = None
                    if record.rec_type in _RECORD_TYPES and _ok_status(record):
                        url = record.rec_headers.get_header("WARC-Target-URI")
                        payload = record.content_stream().read(max_bytes + 1)
                    # Only after the payload is read: asking for the offset reads to the record's end.
                    offset = start + iterator.get_record_offset()
                    last_end = offset + iterator.get_record_length()
                    if payload is None:
                        continue
                    url = url or f"{path}#offset={offset}"
                    if len(payload) > max_bytes:
                        report(url, "too_large", f"{url} (in {path}) is larger than {max_bytes:,} bytes.")
                        continue
                    yield _Record(url, offset, payload)
                return
            except Exception as exc:
                # (ArchiveLoadFailed, ValueError, EOFError; an AttributeError for a response
                # record without a WARC-Target-URI): each is a corrupt record to report and skip.
                if progressed or not reported:
                    reported = True
                    report(
                        f"{path}#offset={last_end}",
                        "corrupt_record",
                        f"{path}: unreadable data from byte {last_end:,} ({_short(exc)}); "
                        "skipped to the next record.",
                    )
                resume = _find(handle, marker, last_end)
                if resume == start:  # no progress: the record the reader began with is the bad one
                    resume = _find(handle, marker, start + 1)
                if resume is None:
                    return
                start = resume


def _ok_status(record: Any) -> bool:
    if record.rec_type != "response" or record.http_headers is None:
        return True
    return str(record.http_headers.get_statuscode() or "").startswith("2")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _find(handle: IO[bytes], marker: bytes, start: int) -> int | None:
    """The offset of the next ``marker`` at or after ``start``, if any."""
    handle.seek(start)
    position = start
    tail = b""
    while True:
        block = handle.read(1 << 20)
        if not block:
            return None
        window = tail + block
        found = window.find(marker)
        if found >= 0:
            return position - len(tail) + found
        tail = window[-(len(marker) - 1) :]
        position += len(block)


def read_warc(
    path: str,
    max_bytes: int,
    max_records: int,
    report: Callable[[str, str, str], None],
) -> Iterator[Found]:
    """Archived HTML pages (not live: their media are not fetched) and media blobs.

    A first pass reads the HTML records to learn which page showed each picture.
    """
    shown_on: dict[str, str] = {}
    for record in _records(path, max_bytes, max_records, lambda *_: None):
        if sniff(record.payload) == "text/html":
            for media in extract(record.payload, record.url).media:
                shown_on.setdefault(media, record.url)
    for record in _records(path, max_bytes, max_records, report):
        kind = sniff(record.payload)
        if kind == "text/html":
            yield Page(record.url, record.payload, live=False)
        elif kind.startswith(_MEDIA):
            yield Blob(record.url, record.payload, shown_on.get(record.url))
