"""Signed checkpoints of the audit chain, kept where the database cannot rewrite them.

A checkpoint is one line of JSON -- the chain head's sequence number and digest, the time, the id of
the audit key -- signed with that key's Ed25519 checkpoint key (:mod:`.keys`).  The worker appends
one to ``checkpoints.jsonl`` in ``HAVEN_AUDIT_CHECKPOINT_DIR`` whenever the chain has grown, every
``HAVEN_AUDIT_CHECKPOINT_MINUTES``, and e-mails it to ``HAVEN_AUDIT_CHECKPOINT_EMAIL`` if set.

Checked against the trail (``haven audit verify --checkpoints DIR``), they prove that no event up to
the latest checkpoint was removed or changed, even by someone who holds the audit key and recomputed
every digest after it: the checkpoint remembers the digest.  A line that was edited or made up fails
its signature.  (Deleting the newest lines of the file itself is not caught from the file alone:
keep a copy elsewhere, or the e-mails.)
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import errno
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from . import keys
from .chain import compute_digest
from .models import AuditEvent, ChainHead

FILE = "checkpoints.jsonl"
log = logging.getLogger(__name__)


class CheckpointRefused(RuntimeError):
    """The chain head does not verify, so no checkpoint of it is signed (the message says why)."""


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    digest: str
    at: str
    key: str

    def message(self) -> bytes:
        fields = {"v": 1, "sequence": self.sequence, "digest": self.digest, "at": self.at, "key": self.key}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Problem:
    sequence: int  # the first event it concerns (0: the file itself)
    reason: str


@dataclass(frozen=True)
class CheckpointReport:
    checkpoints: int
    latest: Checkpoint | None
    after: int  # events written after the latest checkpoint
    problem: Problem | None
    stale: bool = False  # events were written long after the latest checkpoint: is the worker running?


def path(directory: Path | str | None = None) -> Path:
    folder = Path(directory) if directory is not None else Path(settings.HAVEN_AUDIT_CHECKPOINT_DIR)
    return folder / FILE if folder.suffix != ".jsonl" else folder


def _last_line(file: Path) -> str:
    with file.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 4096))
        lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""


def last_written(directory: Path | str | None = None) -> int:
    """The sequence number of the newest checkpoint in the file (0: none yet)."""
    file = path(directory)
    if not file.exists():
        return 0
    try:
        return int(json.loads(_last_line(file)).get("sequence", 0))
    except (ValueError, AttributeError):
        return 0


def write(directory: Path | str | None = None, *, force: bool = False) -> Checkpoint | None:
    """Append a signed checkpoint of the chain head, if the chain grew since the last one (or
    ``force``).  Returns it, or None when there was nothing new."""
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or head.sequence == 0:
        return None
    if not force and last_written(directory) >= head.sequence:
        return None
    # Sign only a head that is what it claims: its event is there, linked under a key this server
    # holds, with the head's digest.  Someone who can write to the database must not get a made-up
    # head signed (a huge sequence number would also stop every later checkpoint).
    event = AuditEvent.objects.filter(sequence=head.sequence).first()
    key = keys.by_id(event.key_id) if event is not None else None
    if (
        event is None
        or key is None
        or compute_digest(event, key) != event.digest
        or event.digest != head.digest
    ):
        raise CheckpointRefused(
            f"the chain head (#{head.sequence}) is not an event this server linked: not signed. "
            "Run haven audit verify."
        )
    checkpoint = Checkpoint(
        sequence=head.sequence,
        digest=head.digest,
        at=timezone.now().replace(microsecond=0).isoformat(),
        key=key.id,
    )
    signature = base64.urlsafe_b64encode(key.signer.sign(checkpoint.message())).decode()
    line = json.dumps({**json.loads(checkpoint.message()), "signature": signature}, sort_keys=True) + "\n"
    file = path(directory)
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _append_whole(file, line.encode())
    _mail(checkpoint, line)
    return checkpoint


def _append_whole(file: Path, data: bytes) -> None:
    """Append ``data`` to ``file`` whole or not at all.  A full disk may take part of a line: the
    file is cut back to where it was, for a torn line would read as an edited file ever after."""
    descriptor = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        start = os.fstat(descriptor).st_size
        try:
            written = os.write(descriptor, data)
            if written != len(data):
                reason = f"{os.strerror(errno.ENOSPC)} (only {written} of {len(data)} bytes fitted)"
                raise OSError(errno.ENOSPC, reason, str(file))
            os.fsync(descriptor)
        except OSError:
            os.ftruncate(descriptor, start)
            raise
    finally:
        os.close(descriptor)


def _mail(checkpoint: Checkpoint, line: str) -> None:
    recipients = list(settings.HAVEN_AUDIT_CHECKPOINT_EMAIL)
    if not recipients:
        return
    from django.core.mail import send_mail

    body = (
        "A signed checkpoint of Haven's audit trail. Keep this message: with it, "
        "`haven audit verify --checkpoints FILE` proves that no audit event up to "
        f"#{checkpoint.sequence} was removed or changed.\n\n{line}"
    )
    try:
        send_mail(f"Haven audit checkpoint #{checkpoint.sequence}", body, None, recipients)
    except OSError as exc:  # the file has it; the mail is a second copy
        log.warning("audit checkpoint #%s not e-mailed: %s", checkpoint.sequence, exc)


def _parse(number: int, text: str) -> tuple[Checkpoint, bytes] | Problem:
    try:
        data: Any = json.loads(text)
        checkpoint = Checkpoint(
            sequence=int(data["sequence"]),
            digest=str(data["digest"]),
            at=str(data["at"]),
            key=str(data["key"]),
        )
        exact = isinstance(data["sequence"], int) and not isinstance(data["sequence"], bool)
        if data.get("v") != 1 or not exact or checkpoint.sequence < 1:
            raise ValueError
        signature = base64.urlsafe_b64decode(str(data["signature"]).encode())
    except (ValueError, KeyError, TypeError, binascii.Error):
        return Problem(0, f"checkpoint line {number} is not a checkpoint: the file was edited")
    return checkpoint, signature


def _signed(checkpoint: Checkpoint, signature: bytes, public: Sequence[Ed25519PublicKey]) -> bool:
    candidates = list(public)
    if not candidates:
        key = keys.by_id(checkpoint.key)
        if key is None:
            return False
        candidates = [key.public]
    for candidate in candidates:
        try:
            candidate.verify(signature, checkpoint.message())
        except InvalidSignature:
            continue
        return True
    return False


def verify(directory: Path | str | None = None, public: Sequence[Ed25519PublicKey] = ()) -> CheckpointReport:
    """Check every checkpoint's signature (with ``public`` keys if given, else with the keys of this
    server), then the trail against each: the event it names must be there with the same digest,
    and the trail must reach the newest."""
    file = path(directory)
    if not file.exists():
        return CheckpointReport(0, None, 0, Problem(0, f"no checkpoint file at {file}"))
    found: list[Checkpoint] = []
    for number, text in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        parsed = _parse(number, text)
        if isinstance(parsed, Problem):
            return CheckpointReport(len(found), None, 0, parsed)
        checkpoint, signature = parsed
        if not _signed(checkpoint, signature, public):
            return CheckpointReport(
                len(found),
                None,
                0,
                Problem(
                    0,
                    f"checkpoint line {number} (event #{checkpoint.sequence}, {checkpoint.at}) does not "
                    "carry a valid signature: it was edited or made up",
                ),
            )
        found.append(checkpoint)
    head = ChainHead.objects.filter(pk=1).first()
    end = head.sequence if head is not None else 0
    latest = max(found, key=lambda c: c.sequence, default=None)
    digests = dict(
        AuditEvent.objects.filter(sequence__in={c.sequence for c in found}).values_list("sequence", "digest")
    )
    good = 0  # the newest event a checkpoint still vouches for
    for checkpoint in sorted(found, key=lambda c: c.sequence):
        digest = digests.get(checkpoint.sequence)
        if digest is None or checkpoint.sequence > end:
            first = min(end + 1, checkpoint.sequence)
            return CheckpointReport(
                len(found),
                latest,
                0,
                Problem(
                    first,
                    f"event #{checkpoint.sequence}, seen by the checkpoint of {checkpoint.at}, is gone: the "
                    f"trail ends at #{end}, so events from #{first} on were removed",
                ),
            )
        if digest != checkpoint.digest:
            return CheckpointReport(
                len(found),
                latest,
                0,
                Problem(
                    good + 1,
                    f"event #{checkpoint.sequence} is not the one the checkpoint of {checkpoint.at} saw: "
                    f"events from #{good + 1} to #{checkpoint.sequence} were rewritten",
                ),
            )
        good = checkpoint.sequence
    after = end - latest.sequence if latest is not None else end
    return CheckpointReport(len(found), latest, after, None, stale=_stale(latest, after))


def _stale(latest: Checkpoint | None, after: int) -> bool:
    """Events after the latest checkpoint, which is older than three checkpoint intervals."""
    if latest is None or after == 0:
        return False
    try:
        written = dt.datetime.fromisoformat(latest.at)
    except ValueError:
        return True
    return timezone.now() - written > 3 * dt.timedelta(minutes=settings.HAVEN_AUDIT_CHECKPOINT_MINUTES)
