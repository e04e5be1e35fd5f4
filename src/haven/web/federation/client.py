"""Talking to a peer centre's Haven: its native feed, and the finds we report back to it.

Plain HTTP(S) with the keys the peer issued to us, a timeout on every request and a cap on what
a page may weigh.  What a peer sends is checked field by field before anything is written: a
peer that sends garbage gets an error on the network view and changes nothing here.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_PAGE_BYTES = 32 * 2**20
PAGE_SIZE = 1000  # the native feed's largest page: a first import of a big bank in few round trips
TIMEOUT_SECONDS = 30
"""Seconds a peer may stay silent (connecting, or between two reads)."""
DEADLINE_SECONDS = 120
"""Seconds one request may take in all: a peer that trickles its answer is cut off."""
_BIGINT = 2**63 - 1  # what a database column of 64 bits holds
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
KEY_NAMES = ("subscription_key", "fetch_key", "feedback_key", "submit_key")


class PeerError(Exception):
    """A peer that cannot be reached, refuses us, or answers with something that is not its feed."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        """The peer's HTTP status when it answered with an error."""
        self.body = body
        """Its JSON answer then, if it sent one."""


# --- addresses ---------------------------------------------------------------------------------


def _allow_private() -> bool:
    return bool(getattr(settings, "HAVEN_PEER_ALLOW_PRIVATE", False))


def check_url(url: str) -> str:
    """The peer's base address, cleaned; raises :class:`PeerError` with a reason."""
    text = (url or "").strip()
    if not text or len(text) > 500 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise PeerError("give the peer's address, e.g. https://haven.example.org")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise PeerError("a peer's address starts with https:// (or http:// on a private network)")
    if not parts.hostname:
        raise PeerError("the peer's address has no host name")
    if parts.username or parts.password:
        raise PeerError("the peer's address may not carry a user name or password")
    if parts.query or parts.fragment:
        raise PeerError("the peer's address is the server's base address, without ? or #")
    try:
        _ = parts.port
    except ValueError:
        raise PeerError("the peer's address has an invalid port") from None
    if parts.scheme == "http" and not _allow_private():
        raise PeerError("a peer on the internet is reached over https://")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _check_host(url: str) -> None:
    """Refuse a peer whose name resolves to a loopback, private or otherwise non-public address,
    unless HAVEN_PEER_ALLOW_PRIVATE says centres meet on a private network."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    try:
        answers = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise PeerError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    private = _allow_private()
    for answer in answers:
        address = ipaddress.ip_address(str(answer[4][0]).split("%")[0])
        # Even among centres on a private network: never link-local (cloud metadata), multicast,
        # reserved or unspecified addresses.
        odd = address.is_link_local or address.is_multicast or address.is_reserved or address.is_unspecified
        if odd and not address.is_loopback:
            raise PeerError(f"{host} resolves to {address}, an address no peer can have")
        if not address.is_global and not private:
            raise PeerError(
                f"{host} resolves to {address}, not a public address "
                "(set HAVEN_PEER_ALLOW_PRIVATE=true where centres meet on a private network)"
            )


# --- what a peer sends -------------------------------------------------------------------------

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_REF = r"^[a-z]{3}-[a-z2-7]{1,60}$"
_KIND = r"^[a-z0-9_]{1,32}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False, frozen=True)


class PdqSignal(_Strict):
    type: Literal["pdq"]
    value: str
    quality: Annotated[int, Field(ge=0, le=100)] | None = None
    crop: Annotated[str, Field(pattern=_KIND)] = "whole"

    @field_validator("value")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX64.match(v.lower()):
            raise ValueError("a PDQ hash is 64 hexadecimal digits")
        return v.lower()


class Md5Signal(_Strict):
    type: Literal["video_md5"]
    value: str

    @field_validator("value")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX32.match(v.lower()):
            raise ValueError("an MD5 is 32 hexadecimal digits")
        return v.lower()


Frame = tuple[
    Annotated[int, Field(ge=0, le=_BIGINT)],
    Annotated[int, Field(ge=0, le=100)],
    str,
    Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)],
]


class VpdqSignal(_Strict):
    type: Literal["vpdq"]
    frames: Annotated[list[Frame], Field(max_length=100_000)]

    @field_validator("frames")
    @classmethod
    def _frames(cls, frames: list[Frame]) -> list[Frame]:
        out = []
        for frame, quality, hex_, seconds in frames:
            if not _HEX64.match(hex_.lower()):
                raise ValueError("a frame's PDQ hash is 64 hexadecimal digits")
            out.append((frame, quality, hex_.lower(), seconds))
        return out


Signal = Annotated[PdqSignal | Md5Signal | VpdqSignal, Field(discriminator="type")]


class Record(_Strict):
    id: Annotated[str, Field(pattern=_REF)]
    case_ref: Annotated[str, Field(pattern=_REF)]
    status: Literal["active", "withdrawn", "deleted"]
    updated_at: Annotated[int, Field(ge=0, le=_BIGINT)]
    kind: Literal["photo", "video"]
    signals: Annotated[list[Signal], Field(max_length=200)]


class Page(_Strict):
    checkpoint: Annotated[str, Field(pattern=r"^[0-9]{1,19}$")]
    has_more: bool
    records: Annotated[list[Record], Field(max_length=1000)]

    @field_validator("checkpoint")
    @classmethod
    def _fits(cls, v: str) -> str:
        if int(v) > _BIGINT:
            raise ValueError("a feed position is at most 2**63 - 1")
        return v


def parse_page(body: bytes, *, after: int) -> Page:
    """A feed page, checked; raises :class:`PeerError` naming the first problem."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PeerError("the peer answered with something that is not JSON") from None
    try:
        page = Page.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PeerError(f"the peer sent an invalid feed page ({where}: {first['msg']})") from None
    if int(page.checkpoint) < after:
        raise PeerError("the peer's feed went backwards (its checkpoint is before ours)")
    if page.records and int(page.checkpoint) == after:
        raise PeerError("the peer sent records without moving its checkpoint")
    return page


# --- requests ----------------------------------------------------------------------------------


def _request(
    url: str,
    keys: dict[str, str],
    key: str,
    *,
    body: bytes | None = None,
    limit: int | None = None,
    method: str | None = None,
) -> bytes:
    limit = MAX_PAGE_BYTES if limit is None else limit
    _check_host(url)
    headers = {
        SUBSCRIPTION_HEADER: keys.get("subscription_key", ""),
        "x-functions-key": keys.get(key, ""),
        "Accept": "application/json",
        "User-Agent": "Haven federation",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    verb = method or ("POST" if body else "GET")
    # The scheme was checked by check_url when the peer was added: http(s) only.
    request = urllib.request.Request(url, data=body, headers=headers, method=verb)  # noqa: S310
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            data = _read(response, limit)
    except urllib.error.HTTPError as exc:
        detail, answer = "", None
        with contextlib.suppress(ValueError, AttributeError, OSError, http.client.HTTPException):
            answer = json.loads(exc.read(4096))
            detail = str(answer.get("detail", ""))[:200]
        raise PeerError(
            f"the peer answered {exc.code}" + (f": {detail}" if detail else ""), status=exc.code, body=answer
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.timeout | TimeoutError):
            raise PeerError(f"the peer did not answer within {TIMEOUT_SECONDS} s") from None
        raise PeerError(f"cannot reach the peer: {reason}") from None
    except (ValueError, http.client.HTTPException) as exc:  # a broken status line, a cut body
        raise PeerError(f"the peer's answer is broken: {type(exc).__name__} {exc}"[:300]) from None
    if len(data) > limit:
        raise PeerError(f"the peer's answer is larger than {limit:,} bytes")
    return data


def _read(response: Any, limit: int) -> bytes:
    """The body, in chunks, within :data:`DEADLINE_SECONDS` and one byte over ``limit`` at most."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = response.read(min(2**16, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise PeerError(f"the peer took more than {DEADLINE_SECONDS} s to answer")
    return b"".join(chunks)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A peer's API never redirects; following one could lead the keys somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def fetch_page(base: str, keys: dict[str, str], *, checkpoint: int, page_size: int | None = None) -> Page:
    page_size = min(page_size or getattr(settings, "HAVEN_PEER_PAGE_SIZE", PAGE_SIZE), PAGE_SIZE)
    query = urllib.parse.urlencode({"checkpoint": checkpoint, "page_size": page_size})
    body = _request(f"{base}/api/sharing/v1/feed?{query}", keys, "fetch_key")
    return parse_page(body, after=checkpoint)


def send_finds(base: str, keys: dict[str, str], finds: list[dict[str, Any]]) -> dict[str, Any]:
    """POST finds to the peer; its answer says which it took and which it refused (and why)."""
    body = json.dumps({"finds": finds}).encode()
    answer = _request(f"{base}/api/federation/v1/finds", keys, "feedback_key", body=body, limit=2**20)
    try:
        data = json.loads(answer)
    except ValueError:
        raise PeerError("the peer answered the finds with something that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise PeerError("the peer's answer to the finds has no results")
    if len(data["results"]) != len(finds):
        raise PeerError("the peer answered for a different number of finds than were sent")
    return data


def clean_keys(raw: Any) -> dict[str, str]:
    """The four keys from ``haven partner create --json`` output; raises :class:`PeerError`."""
    if not isinstance(raw, dict):
        raise PeerError('the keys are the JSON that `haven partner create --json` printed: {"fetch_key", …}')
    keys = {}
    for name in KEY_NAMES:
        value = raw.get(name)
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{16,200}", value):
            raise PeerError(f"the keys lack a valid {name}")
        keys[name] = value
    return keys


def _json_answer(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise PeerError("the peer answered with something that is not JSON") from None
    except RecursionError:  # [[[[… nested deeper than Python's parser goes
        raise PeerError("the peer answered with JSON nested too deeply") from None


def get_json(base: str, keys: dict[str, str], path: str, key: str) -> Any:
    """GET ``/api/federation/v1/<path>`` of the peer."""
    return _json_answer(_request(f"{base}/api/federation/v1/{path}", keys, key, limit=MAX_PAGE_BYTES))


def put_json(base: str, keys: dict[str, str], path: str, key: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    return _json_answer(_request(f"{base}/api/federation/v1/{path}", keys, key, body=data, method="PUT"))


def post_json(base: str, keys: dict[str, str], path: str, key: str, body: Any) -> Any:
    data = json.dumps(body).encode()
    return _json_answer(_request(f"{base}/api/federation/v1/{path}", keys, key, body=data))
