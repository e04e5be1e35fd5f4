"""A client for Haven's native sharing API (``/api/sharing/v1/``), and its wire format.

Everything the server sends is checked against the documented shape before it is handed on:
a page that does not parse raises :class:`HavenResponseError` rather than letting a wrong hash
into a platform's match index, or a missed tombstone keep a withdrawn hash matching.
"""

from __future__ import annotations

import enum
import re
import typing as t
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import requests
from threatexchange.exchanges.clients.utils.common import TimeoutHTTPAdapter
from urllib3.util.retry import Retry

__all__ = [
    "FeedPage",
    "FeedRecord",
    "FeedbackValue",
    "HavenError",
    "HavenHTTPError",
    "HavenKeyMissingError",
    "HavenResponseError",
    "HavenSharingClient",
    "Md5FeedSignal",
    "OpinionReport",
    "PdqFeedSignal",
    "RecordFeedback",
    "RecordStatus",
    "SubmittedHash",
    "VpdqFeedSignal",
    "VpdqFrame",
]

USER_AGENT = "haven-threatexchange/0.1.0"
MAX_PAGE_SIZE = 1000

# The feed's checkpoint is a position in a strict order; holding the client to digits is what
# lets it notice a server that sends it backwards (and bounds what it will store).
_CHECKPOINT = re.compile(r"(0|[1-9][0-9]{0,29})")


class HavenError(Exception):
    """Something went wrong talking to a Haven server."""


class HavenHTTPError(HavenError):
    """Haven answered with an error status (or could not be reached at all: ``status`` 0)."""

    def __init__(self, message: str, *, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class HavenResponseError(HavenError):
    """Haven's answer is not in the documented shape; nothing from it was used."""


class HavenKeyMissingError(HavenError):
    """The client was not given the function key of the endpoint it was asked to call."""


class RecordStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"


class FeedbackValue(enum.StrEnum):
    """The ``feedbackValue``/``opinion`` values Haven takes and reports (StopNCII's vocabulary)."""

    BLOCKED = "Blocked"
    NOT_BLOCKED = "NotBlocked"
    PENDING_REVIEW = "PendingReview"
    QUALITY_UNKNOWN = "QualityUnknown"
    NONE = "None"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class PdqFeedSignal:
    value: str
    crop: str
    quality: int | None = None
    type: t.ClassVar[str] = "pdq"


@dataclass(frozen=True)
class Md5FeedSignal:
    value: str
    type: t.ClassVar[str] = "video_md5"


@dataclass(frozen=True)
class VpdqFrame:
    frame: int
    quality: int
    pdq: str
    seconds: float


@dataclass(frozen=True)
class VpdqFeedSignal:
    frames: tuple[VpdqFrame, ...]
    type: t.ClassVar[str] = "vpdq"


FeedSignal = PdqFeedSignal | Md5FeedSignal | VpdqFeedSignal


@dataclass(frozen=True)
class RecordFeedback:
    source: str
    value: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedRecord:
    id: str
    case_ref: str
    status: RecordStatus
    updated_at: int
    kind: str
    signals: tuple[FeedSignal, ...]
    feedback: tuple[RecordFeedback, ...]

    @property
    def is_tombstone(self) -> bool:
        return self.status is not RecordStatus.ACTIVE


@dataclass(frozen=True)
class FeedPage:
    checkpoint: str
    has_more: bool
    records: tuple[FeedRecord, ...]


@dataclass(frozen=True)
class OpinionReport:
    """One partner opinion on a hash: ``type`` is ``pdq`` or ``video_md5``."""

    type: str
    value: str
    opinion: FeedbackValue
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmittedHash:
    """A hash the partner found itself; Haven holds it in quarantine until a reviewer accepts it."""

    type: str
    value: str
    tags: tuple[str, ...] = ()


class HavenSharingClient:
    """The three endpoints of ``/api/sharing/v1/``, each with its own function key.

    ``base_url`` is the API root, e.g. ``https://haven.example.org/api/sharing/v1``.
    Only the keys of the endpoints a caller uses are needed.
    """

    DEFAULT_PAGE_SIZE: t.ClassVar[int] = 500

    def __init__(
        self,
        base_url: str,
        subscription_key: str,
        *,
        fetch_key: str | None = None,
        feedback_key: str | None = None,
        submit_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._subscription_key = subscription_key
        self._keys = {"fetch": fetch_key, "feedback": feedback_key, "submit": submit_key}
        self._timeout = timeout
        self._retries = retries
        self._session: requests.Session | None = None

    def has_key(self, endpoint: t.Literal["fetch", "feedback", "submit"]) -> bool:
        return bool(self._keys[endpoint])

    # --- the endpoints -------------------------------------------------------------------------

    def fetch_page(self, checkpoint: str = "0", *, page_size: int = DEFAULT_PAGE_SIZE) -> FeedPage:
        """One page of the feed, starting right after ``checkpoint``."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}, not {page_size}")
        body = self._request(
            "GET", "feed", "fetch", params={"checkpoint": checkpoint, "page_size": page_size}
        )
        return parse_feed_page(body)

    def iter_feed(self, checkpoint: str = "0", *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[FeedPage]:
        """Every page from ``checkpoint`` on, until the server says there is no more."""
        previous = _checkpoint_position(checkpoint)
        if previous is None:
            raise ValueError(f"a checkpoint is a position as a string of digits, not {checkpoint!r}")
        while True:
            page = self.fetch_page(checkpoint, page_size=page_size)
            current = int(page.checkpoint)
            if current < previous:
                raise HavenResponseError(
                    f"the feed's checkpoint went backwards: {page.checkpoint} after {checkpoint}"
                )
            if current == previous and (page.records or page.has_more):
                # Records after C end at a position after C; and a page that does not move on
                # but promises more would be fetched again forever.
                raise HavenResponseError(
                    f"the feed's checkpoint did not advance past {checkpoint} "
                    f"({len(page.records)} records, has_more={page.has_more})"
                )
            yield page
            if not page.has_more:
                return
            checkpoint, previous = page.checkpoint, current

    def report_opinions(self, opinions: Sequence[OpinionReport]) -> int:
        """Send opinions (``POST opinions``, feedback key); returns how many Haven accepted."""
        payload = {
            "opinions": [
                {"type": o.type, "value": o.value, "opinion": str(o.opinion), "tags": list(o.tags)}
                for o in opinions
            ]
        }
        return _parse_accepted(self._request("POST", "opinions", "feedback", json=payload))

    def submit_hashes(self, hashes: Sequence[SubmittedHash]) -> int:
        """Send hashes found on the platform (``POST hashes``, submit key) into Haven's quarantine."""
        payload = {"hashes": [{"type": h.type, "value": h.value, "tags": list(h.tags)} for h in hashes]}
        return _parse_accepted(self._request("POST", "hashes", "submit", json=payload))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # --- transport -----------------------------------------------------------------------------

    def _get_session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers.update(
                {
                    "Ocp-Apim-Subscription-Key": self._subscription_key,
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                }
            )
            retry = Retry(
                total=self._retries,
                status_forcelist=[429, 500, 502, 503, 504],
                # A POST is not retried: Haven records feedback and quarantined hashes as events,
                # and a retry after a lost answer would record them twice.
                allowed_methods=["GET"],
                backoff_factor=0.2,
                # The last answer comes back to _request, which turns it into a HavenHTTPError
                # with Haven's own detail, rather than urllib3's bare RetryError.
                raise_on_status=False,
            )
            # pytx's adapter carries no annotations.
            adapter = TimeoutHTTPAdapter(timeout=self._timeout, max_retries=retry)  # type: ignore[no-untyped-call]
            session.mount(self.base_url, adapter)
            self._session = session
        return self._session

    def _request(
        self,
        method: str,
        endpoint: str,
        key_name: t.Literal["fetch", "feedback", "submit"],
        *,
        params: Mapping[str, t.Any] | None = None,
        json: t.Any = None,
    ) -> t.Any:
        key = self._keys[key_name]
        if not key:
            raise HavenKeyMissingError(
                f"no {key_name} key was configured, so {method} {endpoint} cannot be called"
            )
        url = f"{self.base_url}/{endpoint}"
        try:
            response = self._get_session().request(
                method,
                url,
                params=params,
                json=json,
                headers={"x-functions-key": key},
                # The function key travels in a header that requests would replay to wherever a
                # redirect points; Haven never redirects its API, so one is treated as an error.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise HavenHTTPError(f"could not reach Haven at {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 300:
            detail = _error_detail(response)
            raise HavenHTTPError(
                f"Haven answered {response.status_code} to {method} {endpoint}: {detail}",
                status=response.status_code,
                detail=detail,
            )
        try:
            return response.json()
        except ValueError as exc:
            snippet = response.text[:80]
            raise HavenResponseError(
                f"Haven's answer to {method} {endpoint} is not JSON "
                f"(Content-Type {response.headers.get('Content-Type')!r}): {snippet!r}"
            ) from exc


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason or ""
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return str(body)[:200]


# --- parsing ---------------------------------------------------------------------------------------


def _fail(path: str, message: str) -> t.NoReturn:
    raise HavenResponseError(f"malformed answer from Haven: {path}: {message}")


def _field(obj: Mapping[str, t.Any], name: str, path: str) -> t.Any:
    if name not in obj:
        _fail(path, f"missing {name!r}")
    return obj[name]


def _str(value: t.Any, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a string, got {type(value).__name__}")
    if not empty and not value:
        _fail(path, "expected a non-empty string")
    return value


def _int(value: t.Any, path: str, *, low: int | None = None, high: int | None = None) -> int:
    # bool is an int in Python, but true is never a count or a timestamp on the wire.
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"expected an integer, got {type(value).__name__}")
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(path, f"{value} is out of range")
    return value


def _list(value: t.Any, path: str) -> list[t.Any]:
    if not isinstance(value, list):
        _fail(path, f"expected a list, got {type(value).__name__}")
    return value


def _object(value: t.Any, path: str) -> Mapping[str, t.Any]:
    if not isinstance(value, dict):
        _fail(path, f"expected an object, got {type(value).__name__}")
    return value


def _hex(value: t.Any, digits: int, path: str) -> str:
    text = _str(value, path).lower()
    if len(text) != digits or not all(c in "0123456789abcdef" for c in text):
        _fail(path, f"{value!r} is not {digits} hex digits")
    return text


def _checkpoint_position(value: t.Any) -> int | None:
    if not isinstance(value, str) or not _CHECKPOINT.fullmatch(value):
        return None
    return int(value)


def parse_feed_page(body: t.Any) -> FeedPage:
    """Check one ``GET feed`` answer against the documented shape, or raise HavenResponseError."""
    page = _object(body, "page")
    checkpoint = _field(page, "checkpoint", "page")
    if _checkpoint_position(checkpoint) is None:
        _fail("checkpoint", f"expected a position as a string of digits, got {checkpoint!r}")
    has_more = _field(page, "has_more", "page")
    if not isinstance(has_more, bool):
        _fail("has_more", f"expected true or false, got {has_more!r}")
    raw_records = _list(_field(page, "records", "page"), "records")
    records = tuple(_parse_record(raw, f"records[{i}]") for i, raw in enumerate(raw_records))
    return FeedPage(checkpoint=checkpoint, has_more=has_more, records=records)


def _parse_record(raw: t.Any, path: str) -> FeedRecord:
    obj = _object(raw, path)
    status_text = _str(_field(obj, "status", path), f"{path}.status")
    try:
        status = RecordStatus(status_text)
    except ValueError:
        _fail(f"{path}.status", f"unknown status {status_text!r}")
    signals: list[FeedSignal] = []
    for i, raw_signal in enumerate(_list(_field(obj, "signals", path), f"{path}.signals")):
        signal = _parse_signal(raw_signal, f"{path}.signals[{i}]")
        if signal is not None:
            signals.append(signal)
    feedback = tuple(
        _parse_feedback(raw_fb, f"{path}.feedback[{i}]")
        for i, raw_fb in enumerate(_list(_field(obj, "feedback", path), f"{path}.feedback"))
    )
    record = FeedRecord(
        id=_str(_field(obj, "id", path), f"{path}.id"),
        case_ref=_str(_field(obj, "case_ref", path), f"{path}.case_ref"),
        status=status,
        updated_at=_int(_field(obj, "updated_at", path), f"{path}.updated_at", low=0),
        kind=_str(_field(obj, "kind", path), f"{path}.kind"),
        signals=tuple(signals),
        feedback=feedback,
    )
    if record.is_tombstone and not obj["signals"]:
        # A tombstone is only worth its signals: without them a client cannot tell which hashes
        # to drop, and a withdrawn hash would go on matching.
        _fail(f"{path}.signals", f"the {status} record {record.id!r} lists no signals to delete")
    return record


def _parse_signal(raw: t.Any, path: str) -> FeedSignal | None:
    obj = _object(raw, path)
    kind = _str(_field(obj, "type", path), f"{path}.type")
    if kind == "pdq":
        quality = obj.get("quality")
        return PdqFeedSignal(
            value=_hex(_field(obj, "value", path), 64, f"{path}.value"),
            crop=_str(_field(obj, "crop", path), f"{path}.crop"),
            quality=None if quality is None else _int(quality, f"{path}.quality", low=0, high=100),
        )
    if kind == "video_md5":
        return Md5FeedSignal(value=_hex(_field(obj, "value", path), 32, f"{path}.value"))
    if kind == "vpdq":
        frames = tuple(
            _parse_frame(raw_frame, f"{path}.frames[{i}]")
            for i, raw_frame in enumerate(_list(_field(obj, "frames", path), f"{path}.frames"))
        )
        return VpdqFeedSignal(frames=frames)
    # A signal type newer than this client: skipped, as pytx's StopNCII client skips types it
    # cannot map, so that a server upgrade does not stop every partner's fetch.
    return None


def _parse_frame(raw: t.Any, path: str) -> VpdqFrame:
    parts = _list(raw, path)
    if len(parts) != 4:
        _fail(path, f"expected [frame, quality, pdq_hex, seconds], got {len(parts)} items")
    frame, quality, pdq, seconds = parts
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        _fail(f"{path}[3]", f"expected a non-negative number of seconds, got {seconds!r}")
    return VpdqFrame(
        frame=_int(frame, f"{path}[0]", low=0),
        quality=_int(quality, f"{path}[1]", low=0, high=100),
        pdq=_hex(pdq, 64, f"{path}[2]"),
        seconds=float(seconds),
    )


def _parse_feedback(raw: t.Any, path: str) -> RecordFeedback:
    obj = _object(raw, path)
    tags = _list(obj.get("tags", []), f"{path}.tags")
    return RecordFeedback(
        source=_str(_field(obj, "source", path), f"{path}.source", empty=True),
        value=_str(_field(obj, "value", path), f"{path}.value"),
        tags=tuple(_str(tag, f"{path}.tags[{i}]") for i, tag in enumerate(tags)),
    )


def _parse_accepted(body: t.Any) -> int:
    obj = _object(body, "answer")
    return _int(_field(obj, "accepted", "answer"), "accepted", low=0)
