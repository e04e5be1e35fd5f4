"""A small Haven stand-in on 127.0.0.1: it serves prepared feed pages and records what it is sent."""

from __future__ import annotations

import json
import threading
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_ROOT = "/api/sharing/v1"
FETCH_KEY = "fetch-key-1"
FEEDBACK_KEY = "feedback-key-1"
SUBMIT_KEY = "submit-key-1"
SUBSCRIPTION_KEY = "subscription-key-1"

Answer = tuple[int, bytes | dict[str, t.Any] | list[t.Any] | str]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: t.Any


@dataclass
class FakeHaven:
    """Pages by checkpoint; an answer is (status, JSON-able body) or (status, raw bytes)."""

    url: str = ""
    pages: dict[str, Answer] = field(default_factory=dict)
    # Answers given once each, before the pages, whatever the checkpoint: for retries.
    queued: list[Answer] = field(default_factory=list)
    post_answer: Answer = (200, {"accepted": 1})
    seen: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.url + API_ROOT

    def serve_feed(self, *pages: tuple[str, dict[str, t.Any]]) -> None:
        """Chain pages: the first answers checkpoint 0, each next one the checkpoint before it."""
        start = "0"
        for after, page in pages:
            self.pages[start] = (200, page)
            start = after

    def feed_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path == f"{API_ROOT}/feed"]


def page(checkpoint: str, records: list[dict[str, t.Any]], *, has_more: bool = False) -> dict[str, t.Any]:
    return {"checkpoint": checkpoint, "has_more": has_more, "records": records}


def photo(
    item_id: str,
    *signals: tuple[str, str],
    status: str = "active",
    case_ref: str = "hvc-case-1",
    updated_at: int = 1_764_871_234,
    feedback: list[dict[str, t.Any]] | None = None,
) -> dict[str, t.Any]:
    """A photo record; signals are (pdq_hex, crop) pairs."""
    return {
        "id": item_id,
        "case_ref": case_ref,
        "status": status,
        "updated_at": updated_at,
        "kind": "photo",
        "signals": [{"type": "pdq", "value": value, "quality": 90, "crop": crop} for value, crop in signals],
        "feedback": feedback or [],
    }


def _handler(fake: FakeHaven) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: t.Any) -> None:
            pass  # keep test output clean

        def _answer(self, answer: Answer) -> None:
            status, body = answer
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(raw)

        def _record(self, body: t.Any) -> Seen:
            parts = urlsplit(self.path)
            seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            fake.seen.append(seen)
            return seen

        def do_GET(self) -> None:
            seen = self._record(None)
            if fake.queued:
                self._answer(fake.queued.pop(0))
                return
            checkpoint = seen.query.get("checkpoint", [""])[0]
            self._answer(fake.pages.get(checkpoint, (404, {"detail": f"no page after {checkpoint}"})))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self._record(json.loads(self.rfile.read(length) or b"null"))
            self._answer(fake.post_answer)

    return Handler


def start(fake: FakeHaven) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
