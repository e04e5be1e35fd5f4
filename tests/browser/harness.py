"""A tiny local web server for testing the portal's JavaScript modules without Django."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parents[2] / "src" / "haven" / "web" / "portal" / "static" / "portal"


def serve_harness(
    *, page: bytes, harness: bytes, csp: str, data: dict[str, bytes], problems: list[str]
) -> ThreadingHTTPServer:
    """Serve ``page`` at /, ``harness`` at /harness.js, the portal's modules at /static/portal/,
    and ``data[NAME]`` at /data/NAME (read when asked, so tests may add to it). Any other request
    is a problem: the code under test must make none."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            name = path.rsplit("/", 1)[1]
            headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
            if path == "/":
                body, headers["Content-Type"] = page, "text/html; charset=utf-8"
                headers["Content-Security-Policy"] = csp
            elif path == "/harness.js":
                body, headers["Content-Type"] = harness, "text/javascript"
            elif path == f"/static/portal/{name}" and (STATIC / name).is_file():
                body, headers["Content-Type"] = (STATIC / name).read_bytes(), "text/javascript"
            elif path == f"/data/{name}" and name in data:
                body, headers["Content-Type"] = data[name], "application/octet-stream"
            else:
                problems.append(f"unexpected request {self.path}")
                self.send_error(404)
                return
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


class HarnessSite:
    """The harness page in a browser, and the bytes the test hands to it under /data/NAME."""

    def __init__(self) -> None:
        self.page: Any = None
        self.data: dict[str, bytes] = {}
        self.problems: list[str] = []

    def put(self, name: str, payload: bytes) -> str:
        self.data[name] = payload
        return name

    def call(self, function: str, *args: Any) -> Any:
        return self.page.evaluate(f"(args) => window.{function}(...args)", list(args))


def open_harness(browser: Any, *, page: bytes, harness: bytes, csp: str) -> Iterator[HarnessSite]:
    """Serve the harness, open it in a fresh browser context and wait for ``window.harnessReady``.

    Anything but the harness server would be a third-party request: the code under test must make
    none, so such requests are aborted and, like console errors, fail the module at the end.
    """
    site = HarnessSite()
    server = serve_harness(page=page, harness=harness, csp=csp, data=site.data, problems=site.problems)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    context = browser.new_context()
    context.route(
        lambda url: not url.startswith(origin + "/"),
        lambda route: (site.problems.append(f"outside request {route.request.url}"), route.abort()),
    )
    site.page = tab = context.new_page()
    tab.on("console", lambda m: site.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: site.problems.append(str(error)))
    tab.goto(origin + "/")
    tab.wait_for_function("window.harnessReady === true", timeout=10_000)
    try:
        yield site
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    assert not site.problems, site.problems
