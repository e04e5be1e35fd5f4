"""A real HTTP server on 127.0.0.1 that plays both a normal site and a hostile one.

It runs aiohttp.web on its own event loop in a background thread.  Tests add
documents with :meth:`TestSite.put` under paths of their own; the hostile routes
(redirect chains and loops, endless and dripping bodies, a gzip bomb, a link trap)
are always there.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import threading
import zlib
from collections.abc import Iterator

from aiohttp import web


class TestSite:
    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        self.documents: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.hits: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.documents[path] = (status, content_type, data, headers or {})
        return self.url(path)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- routes ----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        key = request.path_qs if request.path_qs in self.documents else path
        self.hits[key] = self.hits.get(key, 0) + 1
        if key in self.documents:
            status, content_type, data, headers = self.documents[key]
            return web.Response(status=status, body=data, headers={"Content-Type": content_type, **headers})
        parts = path.strip("/").split("/")
        match parts:
            case ["flaky", n, *rest]:
                # Busy (503, Retry-After: 0) for the first n requests, then the document at /rest.
                if self.hits[key] <= int(n):
                    return web.Response(status=503, text="busy", headers={"Retry-After": "0"})
                status, content_type, data, headers = self.documents["/" + "/".join(rest)]
                return web.Response(
                    status=status, body=data, headers={"Content-Type": content_type, **headers}
                )
            case ["status", code]:
                return web.Response(status=int(code), text=f"status {code}")
            case ["chain", n] if int(n) > 0:
                raise web.HTTPFound(f"/chain/{int(n) - 1}")
            case ["chain", "0"]:
                return web.Response(
                    text="<html><body>end of the chain</body></html>", content_type="text/html"
                )
            case ["loop", "a"]:
                raise web.HTTPFound("/loop/b")
            case ["loop", "b"]:
                raise web.HTTPMovedPermanently(self.url("/loop/a"))
            case ["to"]:
                raise web.HTTPFound(request.query["u"])
            case ["endless"]:
                return await self._endless(request)
            case ["drip"]:
                return await self._drip(request, float(request.query.get("every", "1")))
            case ["gzip-bomb"]:
                return web.Response(
                    body=_gzip_zeros(200 * 2**20),
                    headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
                )
            case ["gzip-page"]:
                return web.Response(
                    body=gzip.compress(b"<html><body><p>compressed</p></body></html>"),
                    headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
                )
            case ["trap", n]:
                k = int(n)
                links = "".join(
                    f'<a href="/trap/{k + 1}">next</a><a href="/trap/{k}?page={k + i}">v{i}</a>'
                    for i in range(3)
                )
                return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")
        return web.Response(status=404, text="not found")

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        block = b"\0" * 65536
        try:
            while True:
                await response.write(block)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def _drip(self, request: web.Request, every: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        try:
            for _ in range(1000):
                await response.write(b"<")
                await asyncio.sleep(every)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response


@functools.cache
def _gzip_zeros(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (about a thousandth of it on the wire)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * 2**20
    parts = [c.compress(block) for _ in range(size // len(block))]
    parts.append(c.flush())
    return b"".join(parts)


def serve() -> Iterator[TestSite]:
    site = TestSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()
