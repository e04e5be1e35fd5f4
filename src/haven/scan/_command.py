"""What ``haven scan`` does once its arguments are parsed (the CLI only dispatches here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from ._bank import DEFAULT_THRESHOLD, BankFileError, BankSnapshot, JsonlBank
from ._fetch import FetchPolicy
from ._model import Candidate, ScanReport, ScanStats
from ._pipeline import ScanOptions, scan
from ._sources import Source
from ._spec import CrawlLimits, SourceSpecError, parse_source
from ._text import TextBank, TextBankError, TextCandidate

__all__ = ["ScanCommand", "run_scan_command"]

_SHOWN_ERRORS = 10


@dataclass(frozen=True)
class ScanCommand:
    """The arguments of ``haven scan``."""

    sources: Sequence[str]
    bank: str | None = None
    scheduler: str | None = None
    depth: int = 1
    max_pages: int = 1000
    same_site: bool = True
    allow_loopback: bool = False
    threshold: int = DEFAULT_THRESHOLD
    jobs: int = 1
    videos: bool = False
    robust: bool = True
    text_bank: str | None = None
    queries: tuple[str, ...] = ()
    search_delay_s: float = 1.0


class _StdoutSink:
    """Writes each candidate as a JSON line as soon as it is found."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def add(self, candidate: Candidate) -> None:
        self.out.write(json.dumps(candidate.as_record(), ensure_ascii=False) + "\n")
        self.out.flush()

    def add_text(self, candidate: TextCandidate) -> None:
        self.out.write(json.dumps(candidate.as_record(), ensure_ascii=False) + "\n")
        self.out.flush()


def run_scan_command(command: ScanCommand, stdout: TextIO, stderr: TextIO) -> int:
    """Run a scan; candidates as JSON Lines on ``stdout``, progress and summary on ``stderr``.

    Exit status: 0 when the scan ran (with or without candidates, whatever failed
    per URL), 2 when the arguments cannot be used (unknown source, unreadable bank).
    """
    limits = CrawlLimits(command.depth, command.max_pages, command.same_site)
    try:
        sources: list[Source] = [
            parse_source(text, limits, queries=command.queries, delay_s=command.search_delay_s)
            for text in command.sources
        ]
        bank = (
            BankSnapshot(JsonlBank(command.bank).read_bank(), threshold=command.threshold)
            if command.bank
            else None
        )
        text_bank = TextBank.read(command.text_bank) if command.text_bank else None
    except (SourceSpecError, BankFileError, TextBankError, ValueError) as exc:
        stderr.write(f"haven scan: {exc}\n")
        return 2
    if bank is None and text_bank is None:
        stderr.write("haven scan: no --bank given: media are hashed but nothing can match\n")
    options = ScanOptions(
        policy=FetchPolicy(allow_loopback=command.allow_loopback),
        jobs=command.jobs,
        videos=command.videos,
        robust=command.robust,
    )
    from tqdm import tqdm

    with tqdm(
        unit="media", file=stderr, disable=not stderr.isatty(), dynamic_ncols=True, desc="scanning"
    ) as bar:

        def progress(stats: ScanStats) -> None:
            bar.n = stats.hashed + stats.not_media + stats.videos_skipped + sum(stats.errors.values())
            bar.set_postfix(pages=stats.pages, candidates=stats.candidates, refresh=False)
            bar.update(0)

        report = scan(
            sources,
            bank,
            options=options,
            sink=_StdoutSink(stdout),
            progress=progress,
            scheduler=command.scheduler,
            text_bank=text_bank,
        )
    stderr.write(summary(report, [s.describe() for s in sources]))
    return 0


def summary(report: ScanReport, described: Sequence[str]) -> str:
    """A plain-text table of what a scan did."""
    s = report.stats
    seconds = max(s.elapsed_s, 1e-9)
    rows = [
        ("sources", "; ".join(described)),
        ("pages read", f"{s.pages:,} ({s.pages / seconds:,.1f}/s)"),
        ("media found", f"{s.media_found:,}"),
        ("media fetched", f"{s.media_fetched:,}"),
        ("hashed", f"{s.hashed:,} ({s.hashed / seconds:,.1f}/s)"),
        ("not media", f"{s.not_media:,}"),
        ("videos skipped", f"{s.videos_skipped:,}"),
        ("bytes read", f"{s.bytes:,}"),
        ("candidates", f"{s.candidates:,}"),
        ("page texts read", f"{s.text_pages:,}"),
        ("text candidates", f"{s.text_candidates:,}"),
        ("errors", ", ".join(f"{code} {n:,}" for code, n in sorted(s.errors.items())) or "none"),
        ("elapsed", f"{s.elapsed_s:,.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["", "scan summary", *(f"  {name.ljust(width)}  {value}" for name, value in rows)]
    if report.errors:
        lines.append(f"first errors (of {len(report.errors):,}):")
        lines.extend(f"  [{e.code}] {e.message}" for e in report.errors[:_SHOWN_ERRORS])
    return "\n".join(lines) + "\n"
