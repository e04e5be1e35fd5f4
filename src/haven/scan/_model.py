"""What a scan produces: candidates for review, per-URL errors, and statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._text import TextCandidate

__all__ = ["Candidate", "CandidateSink", "ListSink", "ScanError", "ScanReport", "ScanStats"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A found picture or video that matches a bank entry: a lead for a person to review."""

    media_url: str
    page_url: str | None
    content_id: str
    case_id: str
    distance: int
    kind: str
    """``md5``, ``pdq`` or ``video_frame``; for a robust match, the bank signal kind that
    matched (``pdq`` or a crop kind such as ``centre80``)."""
    transform: str
    """The rotation/flip of the found picture that matched (``original`` when none); for a
    robust match, the query candidate (``whole``, ``photo:0``, ``crop:centre80`` ...)."""
    found_at: datetime
    sha256: str
    md5: str
    pdq: str | None
    quality: int | None

    def as_record(self) -> dict[str, Any]:
        """The JSON Lines form written by ``haven scan``."""
        return {
            "media_url": self.media_url,
            "page_url": self.page_url,
            "content_id": self.content_id,
            "case_id": self.case_id,
            "distance": self.distance,
            "kind": self.kind,
            "transform": self.transform,
            "found_at": self.found_at.isoformat(),
            "sha256": self.sha256,
            "md5": self.md5,
            "pdq": self.pdq,
            "quality": self.quality,
        }

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.media_url, self.page_url or "", self.content_id, self.case_id)


@runtime_checkable
class CandidateSink(Protocol):
    """Port: where candidates go as they are found (the web app's review queue).

    A sink that also has ``add_text(candidate: TextCandidate)`` receives the pages whose
    text holds a case's identifiers as they are found.
    """

    def add(self, candidate: Candidate) -> None: ...


class ListSink:
    """A :class:`CandidateSink` that keeps candidates in a list."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []

    def add(self, candidate: Candidate) -> None:
        self.candidates.append(candidate)


@dataclass(frozen=True, slots=True)
class ScanError:
    """One URL (or file, or archive record) that failed; the scan went on."""

    url: str
    code: str
    message: str
    page_url: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {"url": self.url, "code": self.code, "message": self.message, "page_url": self.page_url}


@dataclass
class ScanStats:
    pages: int = 0
    """HTML pages read (fetched or from an archive)."""
    media_found: int = 0
    """Distinct media URLs (and files, archive records) seen."""
    media_fetched: int = 0
    bytes: int = 0
    """Bytes of pages and media read."""
    hashed: int = 0
    """Pictures hashed (and videos, when video hashing is on)."""
    not_media: int = 0
    """Media links whose content turned out not to be a picture or video."""
    videos_skipped: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Errors by code."""
    candidates: int = 0
    text_pages: int = 0
    """Pages whose text was matched against a text bank."""
    text_candidates: int = 0
    elapsed_s: float = 0.0

    def as_record(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "media_found": self.media_found,
            "media_fetched": self.media_fetched,
            "bytes": self.bytes,
            "hashed": self.hashed,
            "not_media": self.not_media,
            "videos_skipped": self.videos_skipped,
            "errors": dict(sorted(self.errors.items())),
            "candidates": self.candidates,
            "text_pages": self.text_pages,
            "text_candidates": self.text_candidates,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class ScanReport:
    """Everything a scan found, sorted (so two runs over the same site compare equal)."""

    candidates: list[Candidate] = field(default_factory=list)
    text_candidates: list[TextCandidate] = field(default_factory=list)
    """Pages whose text holds a case's personal identifiers (with a text bank)."""
    errors: list[ScanError] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
