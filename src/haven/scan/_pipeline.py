"""The scan pipeline: sources -> pages -> media -> fetch -> hash -> match -> candidates."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from ._analyse import (
    AnalyseOptions,
    MediaTask,
    Outcome,
    analyse,
    analyse_in_worker,
    fetch_task,
    init_worker,
    process_batch,
)
from ._bank import BankSnapshot
from ._fetch import Fetcher, FetchPolicy
from ._html import extract
from ._model import Candidate, CandidateSink, ScanError, ScanReport, ScanStats
from ._sources import Blob, MediaRef, Page, Source, SourceContext
from ._text import TextBank, TextCandidate, TextMatch, page_text

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ScanOptions", "scan", "scan_async"]

_BATCH_WAIT_S = 0.05


@dataclass(frozen=True)
class ScanOptions:
    """How a scan runs.  Source-specific limits (depth, pages) belong to the sources."""

    policy: FetchPolicy = field(default_factory=FetchPolicy)
    jobs: int = 1
    """Processes that hash pictures (local executor); 1 hashes on a thread of this process."""
    concurrency: int = 16
    """Media fetches in flight at once (per-host limits of the policy still apply)."""
    videos: bool = False
    """Hash videos (one frame a second, each frame matched); off by default: decoding is slow."""
    video_seconds_per_hash: float = 1.0
    robust: bool = True
    """Match each picture's query signals with the robust rules, so that a cropped, padded,
    meme-framed or slightly turned copy is found; off: plain PDQ (with rotations and flips)."""
    largest_srcset_only: bool = False
    """From a srcset, fetch only the largest candidate instead of all of them."""
    max_media: int = 1_000_000
    """Distinct media per scan; beyond it media are counted in the report and skipped."""
    dask_batch_size: int = 16
    """Media per Dask task (amortises the scheduler's per-task cost)."""

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError("jobs must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.dask_batch_size < 1:
            raise ValueError("dask_batch_size must be at least 1")

    @property
    def analyse_options(self) -> AnalyseOptions:
        return AnalyseOptions(self.videos, self.video_seconds_per_hash, self.robust)


class _Executor(Protocol):
    batch_size: int
    lanes: int

    async def run(self, tasks: list[MediaTask], fetcher: Fetcher) -> list[Outcome]: ...

    async def match_text(self, body: bytes) -> tuple[str, list[TextMatch]]: ...

    def close(self) -> None: ...


def match_page(body: bytes, bank: TextBank) -> tuple[str, list[TextMatch]]:
    """The cases whose identifiers a page's text holds, and the SHA-256 of that text when there are
    any: what a worker runs per page (the text itself does not travel back)."""
    text = page_text(body)
    matches = bank.match(text)
    return (hashlib.sha256(text.encode("utf-8")).hexdigest() if matches else ""), matches


class _LocalExecutor:
    """Fetches on this process's event loop; hashes on a thread or a process pool."""

    batch_size = 1

    def __init__(
        self, bank: BankSnapshot | None, options: ScanOptions, text_bank: TextBank | None = None
    ) -> None:
        self.bank = bank
        self.text_bank = text_bank
        self.options = options.analyse_options
        self.lanes = options.concurrency
        self.pool: ProcessPoolExecutor | None = None
        if options.jobs > 1:
            # spawn, not fork: the scanning process runs threads (resolver, event loop).
            self.pool = ProcessPoolExecutor(
                options.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(bank, self.options),
            )
        # One hashing thread without a pool: decoding holds the GIL for much of its time.
        self._one = asyncio.Semaphore(1)

    async def run(self, tasks: list[MediaTask], fetcher: Fetcher) -> list[Outcome]:
        out: list[Outcome] = []
        loop = asyncio.get_running_loop()
        for task in tasks:
            item = await fetch_task(fetcher, task)
            if isinstance(item, Outcome):
                out.append(item)
                continue
            data = item.data
            assert data is not None  # noqa: S101 - fetch_task returns tasks with bytes
            fetched = task.data is None
            if self.pool is not None:
                out.append(
                    await loop.run_in_executor(
                        self.pool, analyse_in_worker, item.url, item.page_url, data, fetched
                    )
                )
            else:
                async with self._one:
                    out.append(
                        await asyncio.to_thread(
                            analyse, item.url, item.page_url, data, self.bank, self.options, fetched=fetched
                        )
                    )
        return out

    async def match_text(self, body: bytes) -> tuple[str, list[TextMatch]]:
        assert self.text_bank is not None  # noqa: S101 - only called with a text bank
        return await asyncio.to_thread(match_page, body, self.text_bank)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskExecutor:
    """Ships batches of media tasks to Dask workers, which fetch, hash and match them."""

    def __init__(
        self,
        client: Client,
        own: bool,
        bank: BankSnapshot | None,
        options: ScanOptions,
        text_bank: TextBank | None = None,
    ) -> None:
        self.client: Any = cast(Any, client)  # distributed ships no type hints
        self.own = own
        self.policy = options.policy
        self.options = options.analyse_options
        self.batch_size = options.dask_batch_size
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.lanes = 2 * workers
        # The snapshot travels to every worker once; tasks refer to it by key.
        self.bank: Any = self.client.scatter(bank, broadcast=True, hash=False) if bank is not None else None
        self.text_bank: Any = (
            self.client.scatter(text_bank, broadcast=True, hash=False) if text_bank is not None else None
        )

    async def run(self, tasks: list[MediaTask], fetcher: Fetcher) -> list[Outcome]:
        future = self.client.submit(
            process_batch, tasks, self.bank, self.policy, self.options, pure=False, retries=1
        )
        result: list[Outcome] = await asyncio.to_thread(future.result)
        return result

    async def match_text(self, body: bytes) -> tuple[str, list[TextMatch]]:
        future = self.client.submit(match_page, body, self.text_bank, pure=False, retries=1)
        result: tuple[str, list[TextMatch]] = await asyncio.to_thread(future.result)
        return result

    def close(self) -> None:
        if self.own:
            self.client.close()


def _dask_executor(
    scheduler: str | Client, bank: BankSnapshot | None, options: ScanOptions, text_bank: TextBank | None
) -> _DaskExecutor:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "running a scan on a Dask cluster needs Dask: pip install 'haven[cluster]'"
        ) from None
    if isinstance(scheduler, str):
        client: Any = Client
        return _DaskExecutor(client(scheduler, set_as_default=False), True, bank, options, text_bank)
    return _DaskExecutor(scheduler, False, bank, options, text_bank)


class _Run:
    """The state of one scan."""

    def __init__(
        self,
        bank: BankSnapshot | None,
        options: ScanOptions,
        sink: CandidateSink | None,
        progress: Callable[[ScanStats], None] | None,
    ) -> None:
        self.bank = bank
        self.options = options
        self.sink = sink
        self.progress = progress
        self.report = ScanReport()
        self.stats = self.report.stats
        self.seen_media: set[str] = set()
        self.seen_text: set[tuple[str, str]] = set()
        self.limit_reported = False

    def error(self, url: str, code: str, message: str, page_url: str | None = None) -> None:
        self.report.errors.append(ScanError(url, code, message, page_url))
        self.stats.errors[code] += 1
        self._tick()

    def count_bytes(self, n: int) -> None:
        self.stats.bytes += n

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.stats)

    def media_task(self, url: str, page_url: str | None, data: bytes | None = None) -> MediaTask | None:
        if url in self.seen_media:
            return None
        if len(self.seen_media) >= self.options.max_media:
            if not self.limit_reported:
                self.limit_reported = True
                self.error(url, "limit", f"Stopped taking new media after {self.options.max_media:,}.")
            return None
        self.seen_media.add(url)
        self.stats.media_found += 1
        if data is not None:
            self.stats.bytes += len(data)
        return MediaTask(url, page_url, data)

    async def match_text(self, page_url: str, body: bytes, executor: _Executor) -> None:
        """Read the page's text for the text bank's identifiers: each case once per page."""
        try:
            digest, matches = await executor.match_text(body)
        except Exception as exc:  # a lost worker: report the page, go on
            self.error(
                page_url, "executor_failed", f"{page_url}: reading its text failed ({type(exc).__name__})."
            )
            return
        self.stats.text_pages += 1
        if not matches:
            return
        now = datetime.now(UTC)
        for m in matches:
            if (page_url, m.case_id) in self.seen_text:
                continue
            self.seen_text.add((page_url, m.case_id))
            candidate = TextCandidate(
                page_url=page_url,
                case_id=m.case_id,
                identifiers=m.identifiers,
                kinds=m.kinds,
                snippet=m.snippet[0],
                spans=m.snippet[1],
                found_at=now,
                text_sha256=digest,
            )
            self.report.text_candidates.append(candidate)
            self.stats.text_candidates += 1
            add_text = getattr(self.sink, "add_text", None)
            if add_text is not None:
                add_text(candidate)

    def outcome(self, o: Outcome) -> None:
        if o.fetched:
            self.stats.media_fetched += 1
            self.stats.bytes += o.size
        if o.status == "hashed":
            self.stats.hashed += 1
            assert o.found_at is not None  # noqa: S101 - analyse stamps hashed outcomes
            for hit in o.hits:
                candidate = Candidate(
                    media_url=o.url,
                    page_url=o.page_url,
                    content_id=hit.entry.content_id,
                    case_id=hit.entry.case_id,
                    distance=hit.distance,
                    kind=hit.kind,
                    transform=hit.transform,
                    found_at=o.found_at,
                    sha256=o.sha256,
                    md5=o.md5,
                    pdq=o.pdq,
                    quality=o.quality,
                )
                self.report.candidates.append(candidate)
                self.stats.candidates += 1
                if self.sink is not None:
                    self.sink.add(candidate)
        elif o.status == "not_media":
            self.stats.not_media += 1
        elif o.status == "video_skipped":
            self.stats.videos_skipped += 1
        elif o.status == "error":
            self.error(o.url, o.error_code, o.error_message, o.page_url)
            return
        self._tick()


async def scan_async(
    sources: Iterable[Source],
    bank: BankSnapshot | None = None,
    *,
    options: ScanOptions | None = None,
    sink: CandidateSink | None = None,
    progress: Callable[[ScanStats], None] | None = None,
    scheduler: str | Client | None = None,
    text_bank: TextBank | None = None,
) -> ScanReport:
    """:func:`scan` for callers that run an event loop already."""
    options = options or ScanOptions()
    executor: _Executor
    if scheduler is not None:
        executor = await asyncio.to_thread(_dask_executor, scheduler, bank, options, text_bank)
    else:
        executor = _LocalExecutor(bank, options, text_bank)
    try:
        return await _scan(list(sources), bank, options, sink, progress, executor, text_bank)
    finally:
        await asyncio.to_thread(executor.close)


async def _scan(
    sources: list[Source],
    bank: BankSnapshot | None,
    options: ScanOptions,
    sink: CandidateSink | None,
    progress: Callable[[ScanStats], None] | None,
    executor: _Executor,
    text_bank: TextBank | None = None,
) -> ScanReport:
    started = time.monotonic()
    run = _Run(bank, options, sink, progress)
    lanes = executor.lanes
    queue: asyncio.Queue[MediaTask | None] = asyncio.Queue(maxsize=4 * lanes * executor.batch_size)

    async with Fetcher(options.policy) as fetcher:
        ctx = SourceContext(
            fetcher,
            run.error,
            run.count_bytes,
            max_bytes=options.policy.max_bytes,
            concurrency=max(2, options.concurrency // 2),
        )

        async def produce() -> None:
            for source in sources:
                try:
                    async for found in source.items(ctx):
                        tasks: list[MediaTask | None] = []
                        if isinstance(found, Page):
                            run.stats.pages += 1
                            if text_bank is not None and len(text_bank):
                                await run.match_text(found.url, found.body, executor)
                            if not found.live:
                                run.stats.bytes += len(found.body)
                            else:
                                links = extract(
                                    found.body, found.url, largest_srcset_only=options.largest_srcset_only
                                )
                                tasks = [run.media_task(m, found.url) for m in links.media]
                            run._tick()
                        elif isinstance(found, MediaRef):
                            tasks = [run.media_task(found.url, found.page_url)]
                        elif isinstance(found, Blob):
                            tasks = [run.media_task(found.url, found.page_url, found.data)]
                        for task in tasks:
                            if task is not None:
                                await queue.put(task)
                except Exception as exc:  # a broken source must not end the scan of the others
                    run.error(
                        source.describe(),
                        "source_failed",
                        f"Reading {source.describe()} failed: {type(exc).__name__}: {exc}",
                    )

        async def consume() -> None:
            done = False
            while not done:
                first = await queue.get()
                if first is None:
                    return
                batch = [first]
                # Fill a batch for a little while: a Dask task per picture would cost more
                # in scheduling than the hashing itself.
                deadline = time.monotonic() + _BATCH_WAIT_S
                while len(batch) < executor.batch_size:
                    if queue.empty():
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        try:
                            more = await asyncio.wait_for(queue.get(), left)
                        except TimeoutError:
                            break
                    else:
                        more = queue.get_nowait()
                    if more is None:
                        done = True
                        break
                    batch.append(more)
                try:
                    outcomes = await executor.run(batch, fetcher)
                except Exception as exc:  # e.g. a lost Dask worker: report the batch, go on
                    for task in batch:
                        run.error(
                            task.url,
                            "executor_failed",
                            f"{task.url}: hashing failed ({type(exc).__name__}: {exc}).",
                            task.page_url,
                        )
                    continue
                for outcome in outcomes:
                    run.outcome(outcome)

        consumers = [asyncio.create_task(consume()) for _ in range(lanes)]
        try:
            await produce()
            for _ in consumers:
                await queue.put(None)
            await asyncio.gather(*consumers)
        finally:
            for task in consumers:
                task.cancel()

    report = run.report
    report.candidates.sort(key=Candidate.sort_key)
    report.text_candidates.sort(key=TextCandidate.sort_key)
    report.errors.sort(key=lambda e: (e.url, e.code, e.message))
    report.stats.elapsed_s = time.monotonic() - started
    return report


def scan(
    sources: Iterable[Source],
    bank: BankSnapshot | None = None,
    *,
    options: ScanOptions | None = None,
    sink: CandidateSink | None = None,
    progress: Callable[[ScanStats], None] | None = None,
    scheduler: str | Client | None = None,
    text_bank: TextBank | None = None,
) -> ScanReport:
    """Scan ``sources`` for content in ``bank``; per-URL failures go in the report.

    ``scheduler``: a Dask scheduler address (``tcp://host:8786``) or a
    ``distributed.Client``; the media are then fetched, hashed and matched on the
    cluster's workers (the bank is sent to each worker once) with the same result
    as a local scan.  Without it, media are fetched here and hashed on ``jobs``
    processes.

    ``text_bank``: a survivor's identifiers as keyed hashes; the text of every page is
    matched against it too (on the cluster's workers when there is one), and the pages
    that hold a case's identifiers are the report's ``text_candidates``.
    """
    return asyncio.run(
        scan_async(
            sources,
            bank,
            options=options,
            sink=sink,
            progress=progress,
            scheduler=scheduler,
            text_bank=text_bank,
        )
    )
