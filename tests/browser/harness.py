"""A tiny local web server for testing the portal's JavaScript modules without Django."""

from __future__ import annotations

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
