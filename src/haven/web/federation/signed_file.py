"""Signed files of shared hashes (``haven-sharing/1``): writing and checking them, without Django.

A centre hands such a file to a partner that has no API (a hotline, a regulator) or to a centre
it cannot reach over the network; ``haven sharing verify`` checks one on a machine that has the
``haven`` command but no server and no database, so this module imports nothing but :mod:`.keys`.

The file is JSON Lines in UTF-8: a header, one line per record of the native feed, and a last line
``{"signature": …}`` holding the Ed25519 signature of the exact bytes of every line before it.
The header carries the whole key card (both public keys), so that the fingerprint a person reads
out is recomputed from the key that signed, never taken on the file's word.  See
docs/federation-offline.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import keys

FORMAT = "haven-sharing/1"
MAX_FILE_BYTES = 2**30
STATUSES = ("active", "withdrawn", "deleted")
_SIGNATURE_SIZE = 64
_NO_SIGNATURE = "the file ends without a signature line: it was cut short or is not a Haven sharing file"


class FileProblem(keys.KeyProblem):
    """A file that is not a complete, intact, signed Haven sharing file (a one-line message)."""


def line(data: Any) -> bytes:
    """One line of the file: compact JSON, UTF-8, ending with a newline."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def header(
    *, card: keys.KeyCard, partner: str, created_at: int, after: int, checkpoint: int | str, records: int
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "centre": card.centre,
        "signing_key": keys.b64(card.signing_key),
        "exchange_key": keys.b64(card.exchange_key),
        "fingerprint": card.fingerprint,
        "partner": partner,
        "created_at": created_at,
        "after": after,
        "checkpoint": str(checkpoint),
        "records": records,
    }


def assemble(
    head: Mapping[str, Any], records: Sequence[Mapping[str, Any]], sign: Callable[[bytes], bytes]
) -> bytes:
    """The whole file: ``head`` and ``records`` as lines, then the signature of those bytes."""
    body = line(dict(head)) + b"".join(line(dict(record)) for record in records)
    return body + line({"signature": keys.b64(sign(body))})


def normalise_fingerprint(text: str) -> str:
    """A fingerprint as people type it (any spacing or case) as 32 lower-case hex digits."""
    digits = "".join((text or "").split()).lower()
    if len(digits) != 32 or any(c not in "0123456789abcdef" for c in digits):
        raise FileProblem(
            f"{text!r} is not a fingerprint: a fingerprint is 32 hexadecimal digits, "
            "as `haven centre key` prints them (spaces do not matter)"
        )
    return digits


def _grouped(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


@dataclass(frozen=True)
class SignedFile:
    """A checked file: who signed it, for whom, which stretch of the feed, and its records."""

    centre: str
    signing_key: bytes
    exchange_key: bytes
    partner: str
    created_at: int
    after: int
    checkpoint: int
    records: tuple[dict[str, Any], ...]

    @property
    def key_card(self) -> keys.KeyCard:
        return keys.KeyCard(centre=self.centre, signing_key=self.signing_key, exchange_key=self.exchange_key)

    @property
    def fingerprint(self) -> str:
        return self.key_card.fingerprint

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for record in self.records:
            out[record["status"]] += 1
        return out

    def summary(self) -> dict[str, Any]:
        """Everything but the records (no hashes): what ``haven sharing verify --json`` prints."""
        return {
            "centre": self.centre,
            "fingerprint": self.fingerprint,
            "signing_key": keys.b64(self.signing_key),
            "exchange_key": keys.b64(self.exchange_key),
            "partner": self.partner,
            "created_at": self.created_at,
            "created": dt.datetime.fromtimestamp(self.created_at, tz=dt.UTC).isoformat(),
            "after": self.after,
            "checkpoint": str(self.checkpoint),
            "records": len(self.records),
            **self.counts(),
        }


def _read(path: str | os.PathLike[str]) -> bytes:
    with Path(path).open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem(f"the file is larger than {MAX_FILE_BYTES:,} bytes, more than Haven writes")
    return data


def _signature(last: bytes) -> bytes:
    """The signature from the last line, which must be exactly what :func:`assemble` writes: the
    line is not covered by the signature, so no byte of it may vary."""
    try:
        value = json.loads(last)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict) or "signature" not in value:
        if last.startswith(b'{"signature"'):
            raise FileProblem("the signature line is damaged")
        raise FileProblem(_NO_SIGNATURE)
    text = value["signature"]
    if set(value) != {"signature"} or not isinstance(text, str) or line(value) != last + b"\n":
        raise FileProblem("the signature line is damaged")
    try:
        signature = keys.unb64(text, "signature", _SIGNATURE_SIZE)
    except keys.KeyProblem:
        raise FileProblem("the signature line is damaged") from None
    if keys.b64(signature) != text:
        raise FileProblem("the signature line is damaged")
    return signature


def _whole(value: Any, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise FileProblem(f"the header's {what} is not a whole number from 0 to {high}")
    return value


def _key(value: Any, what: str) -> bytes:
    try:
        return keys.unb64(value, what, 32)
    except keys.KeyProblem as exc:
        raise FileProblem(str(exc)) from None


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise FileProblem(f"the header names no {what}")
    return value


def read_signed(
    source: str | os.PathLike[str] | bytes, expected_fingerprint: str | None = None
) -> SignedFile:
    """Check a signed file and return what it holds.

    ``source`` is a path or the file's bytes.  Raises :class:`FileProblem` (a
    :class:`~.keys.KeyProblem`) naming the first thing that is wrong, and :class:`OSError` when a
    path cannot be read.  The signature is checked against the key in the header: that proves the
    file is intact, and who signed it only once ``expected_fingerprint`` (from the centre, over a
    second channel) or a key pinned earlier says the key is the centre's.
    """
    expected = normalise_fingerprint(expected_fingerprint) if expected_fingerprint is not None else None
    data = source if isinstance(source, bytes) else _read(source)
    if not data:
        raise FileProblem("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise FileProblem(f"the file is larger than {MAX_FILE_BYTES:,} bytes, more than Haven writes")
    complete = data.endswith(b"\n")
    lines = (data[:-1] if complete else data).split(b"\n")
    try:
        head = json.loads(lines[0])
    except (ValueError, UnicodeDecodeError):
        raise FileProblem(
            "the first line is not JSON: this is not a Haven sharing file, or its header is damaged"
        ) from None
    if not isinstance(head, dict) or not isinstance(head.get("format"), str):
        raise FileProblem("this is not a Haven sharing file: its first line is not a header with a format")
    if head["format"] != FORMAT:
        if head["format"].startswith("haven-sharing/"):
            raise FileProblem(
                f"the file is in format {head['format'][:40]}, which this version of Haven does not "
                f"read (it reads {FORMAT})"
            )
        raise FileProblem(f"this is not a Haven sharing file (format {head['format'][:40]!r})")
    if not complete:
        if lines[-1].startswith(b'{"signature"'):
            raise FileProblem("the file was cut short: its signature line is incomplete")
        raise FileProblem(_NO_SIGNATURE)
    if len(lines) < 2:
        raise FileProblem(_NO_SIGNATURE)
    if lines[-1].endswith(b"\r"):
        raise FileProblem(
            "the file was changed after it was signed: its line ends were changed to CRLF "
            "(as some Windows tools do); use the file exactly as it was received"
        )
    signature = _signature(lines[-1])
    signing_key = _key(head.get("signing_key"), "header's signing key")
    signed = data[: len(data) - len(lines[-1]) - 1]
    try:
        keys.verify(signing_key, signed, signature)
    except keys.KeyProblem:
        hint = " (its line ends were changed to CRLF)" if b"\r\n" in data else ""
        raise FileProblem(
            f"the signature does not match: the file was changed after it was signed{hint}"
        ) from None

    exchange_key = _key(head.get("exchange_key"), "header's exchange key")
    centre = _name(head.get("centre"), "centre")
    if head.get("fingerprint") != keys.fingerprint(signing_key, exchange_key):
        raise FileProblem("the header's fingerprint does not match its keys")
    partner = _name(head.get("partner"), "partner")
    created_at = _whole(head.get("created_at"), "creation time", 10**11)
    after = _whole(head.get("after"), "starting position", 2**63 - 1)
    checkpoint_text = head.get("checkpoint")
    if (
        not isinstance(checkpoint_text, str)
        or not checkpoint_text.isascii()
        or not checkpoint_text.isdigit()
        or len(checkpoint_text) > 19
    ):
        raise FileProblem("the header's checkpoint is not a feed position (digits as text)")
    checkpoint = int(checkpoint_text)
    if checkpoint < after:
        raise FileProblem("the header's checkpoint comes before the position the file starts after")
    count = _whole(head.get("records"), "record count", 10**9)

    records: list[dict[str, Any]] = []
    for number, raw in enumerate(lines[1:-1], start=2):
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise FileProblem(f"line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise FileProblem(f"line {number} is not a record (a JSON object)")
        if record.get("status") not in STATUSES or not isinstance(record.get("id"), str):
            raise FileProblem(f"line {number} is not a feed record (it needs an id and a known status)")
        records.append(record)
    if count != len(records):
        raise FileProblem(f"the header says {count} records but the file holds {len(records)}")

    found = SignedFile(
        centre=centre,
        signing_key=signing_key,
        exchange_key=exchange_key,
        partner=partner,
        created_at=created_at,
        after=after,
        checkpoint=checkpoint,
        records=tuple(records),
    )
    if expected is not None and normalise_fingerprint(found.fingerprint) != expected:
        raise FileProblem(
            f"signed by a different centre: fingerprint {found.fingerprint}, expected {_grouped(expected)}"
        )
    return found
