"""The safe fetcher: one HTTP GET with every limit a hostile server needs.

Everything the scanner and the takedown desk download goes through
:class:`Fetcher`.  It refuses non-http(s) schemes and non-public addresses (checked
on literal hosts before connecting, and on every DNS answer inside the resolver
that aiohttp calls at connect time, so a name that rebinds to a private address
between two lookups still cannot be reached), follows redirects by hand so each
hop is checked again, and caps time (connect, gap between chunks, total) and
decoded size (the body is decompressed here, chunk by chunk, with a bounded
output, so a gzip bomb stops at ``max_bytes`` like any other large body).

Non-2xx answers are results, not errors: a takedown recheck needs to see 404/410.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Final

import aiohttp
import aiohttp.abc
from yarl import URL

from haven import __version__

from ._address import parse_host_address, refusal
from ._sniff import sniff

__all__ = ["FetchError", "FetchPolicy", "FetchResult", "Fetcher", "fetch"]

DEFAULT_USER_AGENT: Final = (
    f"Haven/{__version__} (+https://github.com/haven-ncii/haven; takedown and monitoring)"
)
MAX_URL_LENGTH: Final = 8192

_KEPT_HEADERS: Final = (
    "content-type",
    "content-length",
    "content-encoding",
    "content-disposition",
    "last-modified",
    "etag",
    "server",
    "date",
    "location",
    "x-robots-tag",
    "cache-control",
    "expires",
    "age",
    "via",
    "x-cache",
    "cf-ray",
    "link",
    "retry-after",
)
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024


_TRANSIENT_STATUSES: Final = frozenset({429, 502, 503, 504})


def _retry_after(value: str | None, default: float) -> float:
    """Seconds from a ``Retry-After`` header given in seconds; otherwise ``default``."""
    if value is not None and value.strip().isdigit():
        return float(value.strip())
    return default


@dataclass(frozen=True)
class FetchPolicy:
    """The limits of one fetch.  The defaults suit scanning public web pages."""

    total_timeout_s: float = 30.0
    """The whole fetch, redirects and body included."""
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    """The longest gap between two chunks: a slow drip fails here or on the total."""
    max_bytes: int = 25 * 2**20
    """Decoded bytes, so a gzip bomb stops here too."""
    max_redirects: int = 5
    allow_loopback: bool = False
    """Only tests set this; private, link-local, multicast and reserved addresses are always refused."""
    user_agent: str = DEFAULT_USER_AGENT
    per_host_concurrency: int = 2
    retries: int = 2
    """Further tries after a transient failure: no connection, or HTTP 429, 502, 503, 504."""
    backoff_s: float = 1.0
    """The wait before the first retry, doubled for each next one; a ``Retry-After`` of up to
    ``max_backoff_s`` seconds is honoured instead."""
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("total_timeout_s", "connect_timeout_s", "read_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must be 0 or more")
        if self.per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must be 0 or more")


@dataclass(frozen=True)
class FetchResult:
    """What a server answered, with when and how it was fetched.

    ``redirects`` lists every URL that answered with a redirect, in order (empty
    when ``url`` answered directly); ``final_url`` is the one that gave ``body``.
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    """Selected response headers, lower-case names (content-type, etag, last-modified, ...)."""
    body: bytes = field(repr=False)
    sha256: str
    content_type: str
    """As declared by the server, without parameters; empty when not declared."""
    sniffed_type: str
    """From the body's first bytes, e.g. image/jpeg, text/html, application/octet-stream."""
    redirects: tuple[str, ...]
    fetched_at: datetime
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class FetchError(Exception):
    """A URL could not be fetched.  ``code`` is a short stable string, ``str()`` a sentence.

    Codes: ``bad_url``, ``scheme``, ``blocked_address``, ``dns``, ``connect``,
    ``timeout``, ``too_large``, ``too_many_redirects``, ``redirect_loop``, ``protocol``.
    """

    def __init__(self, code: str, url: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.url = url

    def __reduce__(self) -> tuple[type[FetchError], tuple[str, str, str]]:
        return (type(self), (self.code, self.url, str(self)))


class _BlockedAddress(OSError):
    """Raised inside the resolver; an OSError so aiohttp wraps it rather than crashing."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address}, {why}")
        self.host = host
        self.address = address
        self.why = why


class _GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves names with the system resolver and drops every non-public answer."""

    def __init__(self, allow_loopback: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        kept: list[aiohttp.abc.ResolveResult] = []
        first_refusal: tuple[str, str] | None = None
        for answer in answers:
            address = parse_host_address(answer["host"])
            why = (
                "not an address" if address is None else refusal(address, allow_loopback=self._allow_loopback)
            )
            if why is None:
                kept.append(answer)
            elif first_refusal is None:
                first_refusal = (answer["host"], why)
        if not kept:
            if first_refusal is not None:
                raise _BlockedAddress(host, *first_refusal)
            raise OSError(f"no address found for {host}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _check_url(text: str, policy: FetchPolicy) -> URL:
    """Parse and vet a URL before any connection; raises FetchError."""
    if not isinstance(text, str) or not text.strip():
        raise FetchError("bad_url", str(text), "The URL is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise FetchError("bad_url", text[:200], f"The URL is longer than {MAX_URL_LENGTH:,} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise FetchError("bad_url", text, f"The URL {text!r} contains control characters.")
    try:
        url = URL(text.strip())
    except (ValueError, TypeError) as exc:
        raise FetchError("bad_url", text, f"{text!r} is not a valid URL ({exc}).") from None
    scheme = url.scheme.lower()
    if not scheme:
        raise FetchError("bad_url", text, f"{text!r} is not an absolute URL (it needs http:// or https://).")
    if scheme not in ("http", "https"):
        raise FetchError(
            "scheme", text, f"{text} uses the {scheme}: scheme; Haven only fetches http:// and https:// URLs."
        )
    host = url.raw_host
    if not host:
        raise FetchError("bad_url", text, f"{text} has no host name.")
    if url.user is not None or url.password is not None:
        raise FetchError(
            "bad_url", text, f"{text} carries a user name or password; Haven does not send them."
        )
    try:
        _ = url.port
    except ValueError:
        raise FetchError("bad_url", text, f"{text} has an invalid port.") from None
    address = parse_host_address(host)
    if address is not None:
        why = refusal(address, allow_loopback=policy.allow_loopback)
        if why is not None:
            raise FetchError(
                "blocked_address",
                text,
                f"{text} points at {address}, {why}; Haven only fetches from the public internet.",
            )
        if address.version == 4 and str(address) != host:
            # aiohttp refuses non-canonical IPv4 forms; hand it the canonical one.
            url = url.with_host(str(address))
    return url


class _BodyDecoder:
    """Decodes gzip/deflate with a bounded output, so memory stays under the cap."""

    def __init__(self, encoding: str, url: str) -> None:
        self.url = url
        enc = encoding.strip().lower()
        self._d: zlib._Decompress | None
        if enc in ("", "identity"):
            self._d = None
        elif enc in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._d = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_fallback = True
        else:
            raise FetchError(
                "protocol", url, f"The server sent {url} with an unsupported content encoding ({encoding})."
            )

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``, at most ``room + 1`` of them (one more means: over)."""
        if self._d is None:
            return data
        try:
            out = self._d.decompress(data, room + 1)
        except zlib.error:
            if getattr(self, "_raw_fallback", False) and not self._d.unused_data:
                # Some servers send raw deflate without the zlib header.
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                return self.feed(data, room)
            raise FetchError("protocol", self.url, f"The compressed body of {self.url} is corrupt.") from None
        self._raw_fallback = False
        return out

    def more(self, room: int) -> bytes:
        """Output still held back by the bound after the last ``feed``."""
        if self._d is None or not self._d.unconsumed_tail:
            return b""
        return self._d.decompress(self._d.unconsumed_tail, room + 1)


class Fetcher:
    """An HTTP session that fetches safely.  Use as ``async with Fetcher(policy) as f``.

    Requests to one host share a semaphore of ``policy.per_host_concurrency``.
    """

    def __init__(self, policy: FetchPolicy = FetchPolicy()) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            resolver=_GuardedResolver(self.policy.allow_loopback),
            limit=100,
            limit_per_host=self.policy.per_host_concurrency,
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,  # never a proxy from the environment: it would bypass the address guard
            auto_decompress=False,  # decoded here, bounded (see _BodyDecoder)
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={
                "User-Agent": self.policy.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
            },
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self.policy.per_host_concurrency)
        return slot

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> FetchResult:
        """GET ``url`` (following redirects); raises :class:`FetchError`.

        A transient failure (no connection; HTTP 429, 502, 503 or 504) is tried again up to
        ``policy.retries`` times with exponential back-off; the last answer or error stands.
        A timeout is not retried: a site that drips slowly must not hold a scan three times as long.
        """
        policy = self.policy
        for attempt in range(policy.retries + 1):
            last = attempt == policy.retries
            try:
                result = await self._fetch_once(url, max_bytes)
            except FetchError as exc:
                if last or exc.code != "connect":
                    raise
                wait = policy.backoff_s * 2**attempt
            else:
                if last or result.status not in _TRANSIENT_STATUSES:
                    return result
                wait = _retry_after(result.headers.get("retry-after"), policy.backoff_s * 2**attempt)
            await asyncio.sleep(min(wait, policy.max_backoff_s))
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    async def _fetch_once(self, url: str, max_bytes: int | None) -> FetchResult:
        if self._session is None:
            raise RuntimeError("use the Fetcher as 'async with Fetcher(...) as fetcher'")
        policy = self.policy
        limit = policy.max_bytes if max_bytes is None else max_bytes
        if limit < 1:
            raise ValueError("max_bytes must be at least 1")
        started = time.monotonic()
        fetched_at = datetime.now(UTC)
        current = _check_url(url, policy)
        seen = {str(current)}
        redirects: list[str] = []
        try:
            async with asyncio.timeout(policy.total_timeout_s):
                while True:
                    status, headers, body, location = await self._get(url, current, limit)
                    if status in _REDIRECT_STATUSES and location is not None:
                        redirects.append(str(current))
                        current = self._next_hop(url, current, location, seen, len(redirects))
                        continue
                    break
        except TimeoutError:
            raise FetchError(
                "timeout", url, f"{url} took longer than {policy.total_timeout_s:g} seconds in all."
            ) from None
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return FetchResult(
            url=url,
            final_url=str(current),
            status=status,
            headers=MappingProxyType(headers),
            body=body,
            sha256=hashlib.sha256(body).hexdigest(),
            content_type=content_type,
            sniffed_type=sniff(body),
            redirects=tuple(redirects),
            fetched_at=fetched_at,
            elapsed_s=time.monotonic() - started,
        )

    def _next_hop(self, url: str, current: URL, location: str, seen: set[str], hops: int) -> URL:
        try:
            target = current.join(URL(location))
        except (ValueError, TypeError):
            raise FetchError(
                "bad_url", url, f"{current} redirects to {location!r}, which is not a valid URL."
            ) from None
        if hops > self.policy.max_redirects:
            raise FetchError(
                "too_many_redirects",
                url,
                f"{url} redirected more than {self.policy.max_redirects} times.",
            )
        try:
            checked = _check_url(str(target.with_fragment(None)), self.policy)
        except FetchError as exc:
            raise FetchError(exc.code, url, f"{url} redirects to a URL Haven will not fetch: {exc}") from None
        key = str(checked)
        if key in seen:
            raise FetchError("redirect_loop", url, f"{url} redirects in a loop (back to {key}).")
        seen.add(key)
        return checked

    async def _get(
        self, original: str, url: URL, limit: int
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        if self._session is None:
            raise RuntimeError("the Fetcher is closed")
        policy = self.policy
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=policy.connect_timeout_s,
            sock_connect=policy.connect_timeout_s,
            sock_read=policy.read_timeout_s,
        )
        async with self._slot(url.host_port_subcomponent or url.raw_host or ""):
            try:
                async with self._session.get(
                    url, allow_redirects=False, timeout=timeout, max_line_size=16384, max_field_size=16384
                ) as response:
                    headers = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
                    location = response.headers.get("location")
                    if response.status in _REDIRECT_STATUSES and location is not None:
                        return response.status, headers, b"", location
                    body = await self._read_body(original, response, limit)
                    return response.status, headers, body, None
            except FetchError:
                raise
            except aiohttp.ClientConnectorDNSError as exc:
                if isinstance(exc.os_error, _BlockedAddress):
                    raise FetchError(
                        "blocked_address",
                        original,
                        f"{url} points at {exc.os_error.address}, {exc.os_error.why}; "
                        "Haven only fetches from the public internet.",
                    ) from None
                raise FetchError("dns", original, f"The host name of {url} could not be resolved.") from None
            except aiohttp.ClientConnectorError as exc:
                raise FetchError(
                    "connect", original, f"Could not connect to {url.host}: {exc.strerror or exc}."
                ) from None
            except (aiohttp.ServerTimeoutError, aiohttp.ConnectionTimeoutError, aiohttp.SocketTimeoutError):
                raise FetchError(
                    "timeout",
                    original,
                    f"{url} stopped answering (no data for {policy.read_timeout_s:g} s, "
                    f"or no connection within {policy.connect_timeout_s:g} s).",
                ) from None
            except aiohttp.InvalidURL:
                raise FetchError("bad_url", original, f"{url} is not a URL that can be fetched.") from None
            except (aiohttp.ClientError, ValueError) as exc:
                raise FetchError(
                    "protocol", original, f"{url} gave a broken HTTP answer ({type(exc).__name__}: {exc})."
                ) from None

    async def _read_body(self, original: str, response: aiohttp.ClientResponse, limit: int) -> bytes:
        too_large = FetchError(
            "too_large", original, f"{response.url} is larger than the limit of {limit:,} bytes."
        )
        encoding = response.headers.get("content-encoding", "")
        declared = response.content_length
        if declared is not None and declared > limit and encoding.lower() in ("", "identity"):
            raise too_large
        decoder = _BodyDecoder(encoding, original)
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            out = decoder.feed(chunk, limit - size)
            while out:
                size += len(out)
                if size > limit:
                    raise too_large
                parts.append(out)
                out = decoder.more(limit - size)
        return b"".join(parts)


async def _fetch_once(url: str, policy: FetchPolicy, max_bytes: int | None) -> FetchResult:
    async with Fetcher(policy) as fetcher:
        return await fetcher.fetch(url, max_bytes=max_bytes)


def fetch(
    url: str,
    policy: FetchPolicy = FetchPolicy(),
    *,
    max_bytes: int | None = None,
) -> FetchResult:
    """Fetch one URL from synchronous code (a Django view or task); raises :class:`FetchError`.

    Runs its own event loop; from a thread that already runs one (an async view),
    the fetch runs on a helper thread so the caller's loop is never nested.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_fetch_once(url, policy, max_bytes))
    box: list[FetchResult | BaseException] = []

    def run() -> None:
        try:
            box.append(asyncio.run(_fetch_once(url, policy, max_bytes)))
        except BaseException as exc:  # handed to the caller's thread below
            box.append(exc)

    worker = threading.Thread(target=run, name="haven-fetch")
    worker.start()
    worker.join()
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result
