"""Turning media bytes into hashes and bank hits: the CPU-bound step, run by executors.

Everything here is a plain function of picklable values, so it runs the same in
the scanning process, in a process pool, or on a Dask worker.  The bytes are
dropped when the function returns; they are never written anywhere.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from haven.signals import HashingError, Md5, PictureQuery, Sha256, pdq_hash, picture_query, video_hash

from ._bank import BankHit, BankSnapshot
from ._fetch import Fetcher, FetchError, FetchPolicy
from ._sniff import sniff


@dataclass(frozen=True, slots=True)
class AnalyseOptions:
    videos: bool = False
    """Hash videos too (one frame a second, each frame matched against the bank); slow."""
    video_seconds_per_hash: float = 1.0
    robust: bool = True
    """Match pictures' query signals too (crops, padding, caption bands, small rotations)."""


@dataclass(frozen=True, slots=True)
class MediaTask:
    """One piece of media to look at: a URL to fetch, or bytes in hand."""

    url: str
    page_url: str | None
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one :class:`MediaTask` (no bytes: only their digests)."""

    url: str
    page_url: str | None
    status: str
    """``hashed``, ``not_media``, ``video_skipped`` or ``error``."""
    size: int = 0
    fetched: bool = False
    kind: str = ""
    sha256: str = ""
    md5: str = ""
    pdq: str | None = None
    quality: int | None = None
    hits: tuple[BankHit, ...] = ()
    found_at: datetime | None = None
    error_code: str = ""
    error_message: str = ""


def _code_of(exc: HashingError) -> str:
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def analyse(
    url: str,
    page_url: str | None,
    data: bytes,
    bank: BankSnapshot | None,
    options: AnalyseOptions,
    *,
    fetched: bool = False,
    found_at: datetime | None = None,
) -> Outcome:
    """Sniff, hash and match one piece of media."""
    when = found_at or datetime.now(UTC)
    kind = sniff(data)

    def outcome(status: str, **more: Any) -> Outcome:
        return Outcome(
            url, page_url, status, size=len(data), fetched=fetched, kind=kind, found_at=when, **more
        )

    if not kind.startswith(("image/", "video/")):
        return outcome("not_media")
    md5 = Md5.of(data)
    digests = {"sha256": str(Sha256.of(data)), "md5": str(md5)}
    try:
        if kind.startswith("video/"):
            if not options.videos:
                return outcome("video_skipped", **digests)
            frames = video_hash(data, seconds_per_hash=options.video_seconds_per_hash)
            exact = bank.match(None, md5) if bank is not None else []
            similar = bank.match_frames((f.hash, f.quality) for f in frames) if bank is not None else []
            return outcome("hashed", hits=tuple(exact or similar), **digests)
        query: PictureQuery | None = None
        if options.robust and bank is not None and bank.robust_signals:
            query = picture_query(data)  # its PDQ and its candidates from one decode
            result = query.whole
        else:
            result = pdq_hash(data)
    except HashingError as exc:
        return outcome("error", error_code=_code_of(exc), error_message=f"{url}: {exc}", **digests)
    hits = bank.match(result, md5, query or ()) if bank is not None else []
    return outcome("hashed", pdq=str(result.hash), quality=result.quality, hits=tuple(hits), **digests)


def analyse_task(task: MediaTask, bank: BankSnapshot | None, options: AnalyseOptions) -> Outcome:
    if task.data is None:
        raise ValueError("analyse_task needs bytes; fetch first")
    return analyse(task.url, task.page_url, task.data, bank, options)


async def fetch_task(fetcher: Fetcher, task: MediaTask) -> MediaTask | Outcome:
    """Fetch a URL task: the task with its bytes, or an error outcome."""
    if task.data is not None:
        return task
    try:
        result = await fetcher.fetch(task.url)
    except FetchError as exc:
        return Outcome(task.url, task.page_url, "error", error_code=exc.code, error_message=str(exc))
    if not result.ok:
        return Outcome(
            task.url,
            task.page_url,
            "error",
            size=len(result.body),
            fetched=True,
            error_code="http_status",
            error_message=f"{task.url} answered HTTP {result.status}.",
        )
    return MediaTask(task.url, task.page_url, result.body)


# -- the process-pool side -------------------------------------------------------------

_WORKER_BANK: BankSnapshot | None = None
_WORKER_OPTIONS = AnalyseOptions()


def init_worker(bank: BankSnapshot | None, options: AnalyseOptions) -> None:
    """Process-pool initializer: the bank arrives once per process, not once per task."""
    global _WORKER_BANK, _WORKER_OPTIONS
    _WORKER_BANK = bank
    _WORKER_OPTIONS = options


def analyse_in_worker(url: str, page_url: str | None, data: bytes, fetched: bool) -> Outcome:
    return analyse(url, page_url, data, _WORKER_BANK, _WORKER_OPTIONS, fetched=fetched)


# -- the Dask side --------------------------------------------------------------------------


def process_batch(
    tasks: list[MediaTask], bank: BankSnapshot | None, policy: FetchPolicy, options: AnalyseOptions
) -> list[Outcome]:
    """Fetch (where needed), hash and match a batch: what a Dask worker runs."""

    async def fetch_all() -> list[MediaTask | Outcome]:
        if all(t.data is not None for t in tasks):
            return list(tasks)
        async with Fetcher(policy) as fetcher:
            return list(await asyncio.gather(*(fetch_task(fetcher, t) for t in tasks)))

    out: list[Outcome] = []
    for item in asyncio.run(fetch_all()):
        if isinstance(item, Outcome):
            out.append(item)
        else:
            assert item.data is not None  # noqa: S101 - fetch_task returns tasks with bytes
            fetched = not any(t is item for t in tasks)
            out.append(analyse(item.url, item.page_url, item.data, bank, options, fetched=fetched))
    return out
