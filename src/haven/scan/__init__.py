"""haven.scan: find known content on the web.

sources -> safe fetch -> media extraction -> hashing (in memory) -> matching against a
bank snapshot -> candidates for human review.  The public surface is what ``__all__``
lists; ``_private`` modules may change without notice.
"""

from ._fetch import Fetcher, FetchError, FetchPolicy, FetchResult, fetch
from ._sniff import sniff

__all__ = [
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "fetch",
    "sniff",
]
