"""haven.scan: find known content on the web.

sources -> safe fetch -> media extraction -> hashing (in memory) -> matching against a
bank snapshot -> candidates for human review.  The public surface is what ``__all__``
lists; ``_private`` modules may change without notice.
"""

from ._address import parse_host_address, refusal
from ._bank import DEFAULT_THRESHOLD, BankEntry, BankFileError, BankHit, BankReader, BankSnapshot, JsonlBank
from ._command import ScanCommand, run_scan_command
from ._fetch import Fetcher, FetchError, FetchPolicy, FetchResult, fetch
from ._html import PageLinks, extract
from ._model import Candidate, CandidateSink, ListSink, ScanError, ScanReport, ScanStats
from ._pipeline import ScanOptions, scan, scan_async
from ._sniff import sniff
from ._sources import (
    SOURCES,
    Blob,
    Crawl,
    Feed,
    Folder,
    Found,
    MediaRef,
    Page,
    Sitemap,
    SiteSearch,
    Source,
    SourceContext,
    UrlList,
    Warc,
)
from ._spec import SourceSpecError, parse_source
from ._text import (
    IDENTIFIER_KINDS,
    PersonalIdentifier,
    TextBank,
    TextBankError,
    TextCandidate,
    TextMatch,
    default_alone,
    mask,
    normalise,
    page_text,
    romanise,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "IDENTIFIER_KINDS",
    "SOURCES",
    "BankEntry",
    "BankFileError",
    "BankHit",
    "BankReader",
    "BankSnapshot",
    "Blob",
    "Candidate",
    "CandidateSink",
    "Crawl",
    "Feed",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "Folder",
    "Found",
    "JsonlBank",
    "ListSink",
    "MediaRef",
    "Page",
    "PageLinks",
    "PersonalIdentifier",
    "ScanCommand",
    "ScanError",
    "ScanOptions",
    "ScanReport",
    "ScanStats",
    "SiteSearch",
    "Sitemap",
    "Source",
    "SourceContext",
    "SourceSpecError",
    "TextBank",
    "TextBankError",
    "TextCandidate",
    "TextMatch",
    "UrlList",
    "Warc",
    "default_alone",
    "extract",
    "fetch",
    "mask",
    "normalise",
    "page_text",
    "parse_host_address",
    "parse_source",
    "refusal",
    "romanise",
    "run_scan_command",
    "scan",
    "scan_async",
    "sniff",
]
