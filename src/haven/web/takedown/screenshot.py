"""Full-page screenshots of a sighting's page, with Chromium kept on Haven's leash.

A headless browser rendering a hostile page would fetch whatever the page names — pictures,
scripts, frames, ``fetch()`` calls — from anywhere, including the centre's own network (the
classic SSRF).  So Chromium never talks to the network itself:

- every request it makes is intercepted (``context.route("**/*")``) and answered with what
  Haven's safe fetcher (:class:`haven.scan.Fetcher`, the same policy and address guard as the
  evidence fetch) got for it, or aborted: only ``GET`` of ``http``/``https`` URLs, at most
  :data:`MAX_REQUESTS` of them and :data:`MAX_TOTAL_BYTES` in all;
- what interception cannot see (WebSockets, preconnects, DNS prefetch, WebRTC) goes to a proxy
  address where nothing listens, with loopback not exempted, and those features are switched
  off on the command line as well; service workers are blocked, downloads refused;
- each screenshot runs in a fresh browser context (no cookies or storage kept), with a hard
  time limit for the whole job (:data:`TOTAL_SECONDS`); the viewport is 1280 pixels wide and
  the picture at most :data:`MAX_HEIGHT` high, longer pages are clipped.

This module knows nothing of Django: the caller passes the fetch policy and the browser path.
Playwright is an optional dependency (``pip install 'haven[screenshots]'``), imported only here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from haven.scan import Fetcher, FetchError, FetchPolicy, FetchResult

__all__ = ["Screenshot", "ScreenshotError", "take"]

VIEWPORT_WIDTH: Final = 1280
VIEWPORT_HEIGHT: Final = 800
MAX_HEIGHT: Final = 10_000
TOTAL_SECONDS: Final = 20.0
MAX_REQUESTS: Final = 300
MAX_TOTAL_BYTES: Final = 64 * 2**20

# A proxy address where nothing listens: whatever escapes interception goes nowhere.
_NOWHERE: Final = "http://127.0.0.1:9"
LAUNCH_ARGS: Final = (
    "--disable-gpu",
    "--disable-background-networking",
    "--dns-prefetch-disable",
    "--disable-features=NetworkPrediction,NetworkServiceInProcess2,MediaRouter,OptimizationHints",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
    "--mute-audio",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    f"--proxy-server={_NOWHERE}",
    "--proxy-bypass-list=<-loopback>",  # loopback too goes to the proxy, never direct
)
# Response headers handed to Chromium: enough to render, nothing that sets state or downloads.
_PASSED_HEADERS: Final = ("content-type", "last-modified", "etag")


class ScreenshotError(Exception):
    """No screenshot.  ``code``: ``no_playwright``, ``no_browser``, ``timeout``, ``page``, ``browser``."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Screenshot:
    png: bytes = field(repr=False)
    sha256: str
    width: int
    height: int
    clipped: bool
    """The page was longer than :data:`MAX_HEIGHT`; the picture shows its top."""
    fetched: tuple[str, ...]
    """URLs answered through the safe fetcher (or from the evidence fetch just made)."""
    refused: tuple[tuple[str, str], ...]
    """(URL, reason) for every request aborted: refused by the fetcher's guard, not GET, not http(s)."""


@dataclass
class _Ledger:
    fetched: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    bytes_used: int = 0


def _answer_from(result: FetchResult) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in result.headers.items() if k in _PASSED_HEADERS}
    return result.status, headers, result.body


def take(
    url: str,
    *,
    policy: FetchPolicy,
    executable: str,
    already: FetchResult | None = None,
    total_seconds: float = TOTAL_SECONDS,
    max_height: int = MAX_HEIGHT,
) -> Screenshot:
    """Render ``url`` in Chromium and return a PNG of the page; raises :class:`ScreenshotError`.

    ``already`` is the evidence fetch of ``url`` just made: the browser is given those very
    bytes for the page, so the picture shows what the recorded SHA-256 is of.  Runs on a
    thread of its own (Playwright cannot share a thread with a running event loop).
    """
    if not Path(executable).is_file() or not os.access(executable, os.X_OK):
        raise ScreenshotError("no_browser", executable)
    try:
        import playwright.async_api  # noqa: F401  (optional dependency; checked before the thread starts)
    except ImportError:
        raise ScreenshotError("no_playwright") from None
    box: list[Screenshot | BaseException] = []

    def run() -> None:
        try:
            box.append(asyncio.run(_take(url, policy, executable, already, total_seconds, max_height)))
        except BaseException as exc:  # handed to the caller's thread below
            box.append(exc)

    worker = threading.Thread(target=run, name="haven-screenshot", daemon=True)
    worker.start()
    # The job has its own hard limit; this is the backstop should the browser not let go.
    worker.join(total_seconds + 30)
    if not box:
        raise ScreenshotError("timeout", f"{total_seconds:g} s")
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def _take(
    url: str,
    policy: FetchPolicy,
    executable: str,
    already: FetchResult | None,
    total_seconds: float,
    max_height: int,
) -> Screenshot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    try:
        async with asyncio.timeout(total_seconds):
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=executable,
                    args=list(LAUNCH_ARGS),
                    # Chromium's sandbox needs an unprivileged user; as root it refuses to start with it.
                    chromium_sandbox=os.geteuid() != 0,
                    timeout=total_seconds * 1000,
                )
                try:
                    return await _render(browser, url, policy, already, total_seconds, max_height)
                finally:
                    await browser.close()
    except TimeoutError:
        raise ScreenshotError("timeout", f"{total_seconds:g} s") from None
    except PlaywrightError as exc:
        first_line = (exc.message or str(exc)).strip().splitlines()[:1]
        raise ScreenshotError("browser", first_line[0][:200] if first_line else "") from None


async def _render(
    browser: Any,
    url: str,
    policy: FetchPolicy,
    already: FetchResult | None,
    total_seconds: float,
    max_height: int,
) -> Screenshot:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    ledger = _Ledger()
    # Answers known before the browser asks: the evidence fetch of the page, redirects included.
    answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
    if already is not None:
        if already.redirects:
            answers[already.url] = (302, {"location": already.final_url}, b"")
        answers[already.final_url] = _answer_from(already)

    # No retries: a screenshot has a budget of seconds, not minutes.
    fetch_policy = replace(policy, retries=0, total_timeout_s=min(policy.total_timeout_s, total_seconds))
    context = await browser.new_context(
        viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT},
        java_script_enabled=True,
        accept_downloads=False,
        service_workers="block",
        ignore_https_errors=False,
        user_agent=policy.user_agent,
    )
    try:
        async with Fetcher(fetch_policy) as fetcher:
            await context.route("**/*", _handler(fetcher, answers, ledger, fetch_policy.max_bytes))
            page = await context.new_page()
            nav_ms = total_seconds * 1000 * 0.6
            try:
                response = await page.goto(url, wait_until="load", timeout=nav_ms)
            except PlaywrightTimeout:
                response = None  # what has loaded so far is still worth a picture
            except PlaywrightError as exc:
                raise ScreenshotError("page", (exc.message or "").strip().splitlines()[0][:200]) from None
            if response is None and page.url in ("", "about:blank"):
                raise ScreenshotError("page", url)
            with contextlib.suppress(PlaywrightTimeout):  # a busy page is photographed as it is
                await page.wait_for_load_state("networkidle", timeout=2000)
            height = await page.evaluate(
                "() => Math.max(document.documentElement ? document.documentElement.scrollHeight : 0,"
                " document.body ? document.body.scrollHeight : 0)"
            )
            full = int(height) if isinstance(height, int | float) and height > 0 else VIEWPORT_HEIGHT
            shown = max(1, min(full, max_height))
            await page.set_viewport_size({"width": VIEWPORT_WIDTH, "height": shown})
            png = await page.screenshot(type="png", full_page=False, animations="disabled", timeout=5000)
    finally:
        await context.close()
    return Screenshot(
        png=png,
        sha256=hashlib.sha256(png).hexdigest(),
        width=VIEWPORT_WIDTH,
        height=shown,
        clipped=full > max_height,
        fetched=tuple(ledger.fetched),
        refused=tuple(ledger.refused),
    )


def _handler(
    fetcher: Fetcher,
    answers: dict[str, tuple[int, dict[str, str], bytes]],
    ledger: _Ledger,
    max_bytes: int,
) -> Callable[[Any], Any]:
    async def handle(route: Any) -> None:
        request = route.request
        target: str = request.url
        if request.method not in ("GET", "HEAD"):
            ledger.refused.append((target, "method"))
            await route.abort("blockedbyclient")
            return
        if not target.lower().startswith(("http://", "https://")):
            ledger.refused.append((target, "scheme"))
            await route.abort("blockedbyclient")
            return
        answer = answers.get(target)
        if answer is None:
            room = min(max_bytes, MAX_TOTAL_BYTES - ledger.bytes_used)
            if len(ledger.fetched) >= MAX_REQUESTS or room < 1:
                ledger.refused.append((target, "budget"))
                await route.abort("blockedbyclient")
                return
            try:
                result = await fetcher.fetch(target, max_bytes=room)
            except FetchError as exc:
                ledger.refused.append((target, exc.code))
                await route.abort("blockedbyclient" if exc.code == "blocked_address" else "failed")
                return
            ledger.bytes_used += len(result.body)
            if result.redirects:
                # Let the browser follow to the final URL, so relative links resolve against it.
                answers[result.final_url] = _answer_from(result)
                answer = (302, {"location": result.final_url}, b"")
            else:
                answer = _answer_from(result)
        ledger.fetched.append(target)
        status, headers, body = answer
        await route.fulfill(status=status, headers=headers, body=body)

    return handle
