"""Shared hashes by file: a signed export for a partner without an API, and its import by a centre
that cannot reach the exporting centre over the network (see docs/federation-offline.md).

The file itself is written and checked by :mod:`.signed_file`, which needs no Django; this module
is the part with the database: what the partner was sent, the importing centre's pinned key and
checkpoint, and the audit trail.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .. import client, identity, keys, signed_file
from ..models import ImportedItem, Peer
from .peers import KEYS_CONTEXT, FetchOutcome, _apply_page, _clean_name

EXPORT_PAGE_SIZE = 1000
IMPORT_CHUNK = 1000
"""Records applied per :func:`~.actions._apply_page` call (a feed page holds at most 1,000)."""


def _may_manage(actor: Any, obj: Any) -> None:
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        same_organisation(actor, obj)


# --- export ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    path: str
    partner: str
    centre: str
    fingerprint: str
    after: int
    checkpoint: int
    records: int
    active: int
    withdrawn: int
    deleted: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "partner": self.partner,
            "centre": self.centre,
            "fingerprint": self.fingerprint,
            "after": self.after,
            "checkpoint": str(self.checkpoint),
            "records": self.records,
            "active": self.active,
            "withdrawn": self.withdrawn,
            "deleted": self.deleted,
        }


class _Staged:
    """The file being written, next to where it goes: created before the feed is read (so a folder
    that cannot be written to is found before anything is recorded), readable by the owner only
    (it holds hashes), and put in place whole or not at all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        self.temporary = Path(name)
        self.fh = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()

    def put_in_place(self) -> None:
        self.temporary.replace(self.path)

    def discard(self) -> None:
        self.fh.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink()


def export_for_partner(
    *, actor: Any, partner: Any, out: str | os.PathLike[str], since: int = 0
) -> ExportResult:
    """Write the partner's native feed after position ``since`` to a file signed by the centre.

    The feed is read page by page exactly as the partner's own fetch would read it, each page in
    its own transaction, so what the partner was sent is recorded (its tombstones reach it in a
    later file) and locks are taken in the feed's usual order.  Like a fetch whose answer is lost,
    an export whose file cannot be written still counts as sent; the file appears whole or not at
    all.  Raises :class:`ActionError` when the partner may not have it, :class:`OSError` when the
    file cannot be written.
    """
    from haven.web.sharing.feed import FeedError, native_page
    from haven.web.sharing.models import Partner

    _may_manage(actor, partner)
    partner = Partner.objects.get(pk=partner.pk)
    if partner.revoked_at is not None:
        raise ActionError(f"{partner.name} is revoked: it is sent nothing more")
    if not partner.allow_fetch:
        raise ActionError(f"{partner.name} may not fetch hashes, so it gets no file of them either")
    if since < 0:
        raise ActionError("--since is a feed position: 0 or more")
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(21, "Is a folder; give the name of the file to write", str(path))
    staged = _Staged(path)
    try:
        card = identity.key_card(partner.organisation_id)
        records: list[dict[str, Any]] = []
        checkpoint = since
        while True:
            try:
                body = native_page(partner, checkpoint=checkpoint, page_size=EXPORT_PAGE_SIZE)
            except FeedError as exc:
                raise ActionError(f"nothing to export after position {since}: {exc}") from None
            page = json.loads(body)
            records += page["records"]
            checkpoint = int(page["checkpoint"])
            if not page["has_more"]:
                break
        head = signed_file.header(
            card=card,
            partner=partner.name,
            created_at=int(timezone.now().timestamp()),
            after=since,
            checkpoint=checkpoint,
            records=len(records),
        )
        data = signed_file.assemble(
            head, records, lambda signed: identity.sign(partner.organisation_id, signed)
        )
        if len(data) > signed_file.MAX_FILE_BYTES:
            raise ActionError(
                f"the file would be larger than {signed_file.MAX_FILE_BYTES:,} bytes, more than a "
                "reader accepts; export with a later --since"
            )
        staged.write(data)
        counts = dict.fromkeys(signed_file.STATUSES, 0)
        for record in records:
            counts[record["status"]] += 1
        with transaction.atomic():
            append(
                actor=actor,
                event_type=EventType.SHARING_EXPORTED,
                organisation=partner.organisation_id,
                obj=partner,
                summary={
                    "partner": partner.name,
                    "after": since,
                    "checkpoint": checkpoint,
                    "records": len(records),
                    **counts,
                },
            )
            staged.put_in_place()
    except BaseException:
        staged.discard()
        raise
    return ExportResult(
        path=str(path),
        partner=partner.name,
        centre=card.centre,
        fingerprint=card.fingerprint,
        after=since,
        checkpoint=checkpoint,
        records=len(records),
        active=counts["active"],
        withdrawn=counts["withdrawn"],
        deleted=counts["deleted"],
    )


# --- peers known only by their files ----------------------------------------------------------


def add_file_peer(*, actor: Any, organisation: Any, name: str, card: keys.KeyCard, fingerprint: str) -> Peer:
    """A peer reached only by signed files, its signing key pinned from ``card`` (a file's header)
    once the operator confirmed ``fingerprint`` with the centre over a second channel."""
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        if actor.organisation_id != organisation.pk:
            raise ActionError("You can only add peers for your own organisation.")
    name = _clean_name(name)
    try:
        confirmed = signed_file.normalise_fingerprint(fingerprint)
    except keys.KeyProblem as exc:
        raise ActionError(str(exc)) from None
    if signed_file.normalise_fingerprint(card.fingerprint) != confirmed:
        raise ActionError(
            f"the fingerprint you confirmed is not {card.centre}'s: the file is signed by "
            f"fingerprint {card.fingerprint}; ask the centre to read its fingerprint to you again"
        )
    with transaction.atomic():
        if Peer.objects.filter(organisation=organisation, name=name).exists():
            raise ActionError(f"There is already a peer called {name}.")
        peer = Peer.objects.create(
            organisation=organisation,
            name=name,
            url="",
            # Such a peer issued us no keys for its API; the field is required and encrypted.
            keys_encrypted=crypto.encrypt(json.dumps({}), KEYS_CONTEXT),
            signing_key=keys.b64(card.signing_key),
            exchange_key=keys.b64(card.exchange_key),
            # Nothing to fetch over the network: the worker leaves an inactive peer alone.
            active=False,
            next_fetch_at=None,
            created_by=None if isinstance(actor, str) else actor,
        )
        append(
            actor=actor,
            event_type=EventType.PEER_ADDED,
            organisation=organisation,
            obj=peer,
            summary={"name": peer.name, "url": "", "centre": card.centre, "fingerprint": card.fingerprint},
        )
    return peer


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    peer: str
    centre: str
    fingerprint: str
    records: int
    added: int
    updated: int
    removed: int
    checkpoint: int
    items: int
    peer_created: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "centre": self.centre,
            "fingerprint": self.fingerprint,
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "checkpoint": str(self.checkpoint),
            "items": self.items,
            "peer_created": self.peer_created,
        }


def _read(path: str | os.PathLike[str] | bytes, expected: str | None = None) -> signed_file.SignedFile:
    try:
        return signed_file.read_signed(path, expected_fingerprint=expected)
    except keys.KeyProblem as exc:
        raise ActionError(str(exc)) from None


def _records(found: signed_file.SignedFile) -> list[client.Record]:
    """The file's records through the same checks as a fetched page's."""
    out = []
    for number, raw in enumerate(found.records, start=2):
        try:
            out.append(client.Record.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ActionError(f"line {number} is not a valid feed record ({where}: {first['msg']})") from None
    return out


def _pinned(peer: Peer, found: signed_file.SignedFile) -> None:
    if not peer.signing_key:
        raise ActionError(
            f"no signing key is pinned for {peer.name} yet, so none of its files can be trusted: "
            "a peer's key is pinned by its first fetch over the network, or when a file adds the "
            "peer with --trust FINGERPRINT"
        )
    pinned = (peer.signing_key, peer.exchange_key or keys.b64(found.exchange_key))
    if pinned != (keys.b64(found.signing_key), keys.b64(found.exchange_key)):
        raise ActionError(
            f"the file is signed by {found.centre} with fingerprint {found.fingerprint}, not with the "
            f"key pinned for {peer.name}: refused (if the centre changed its keys, remove the peer and "
            "add it again after confirming the new fingerprint)"
        )


def _import(actor: Any, peer: Peer, found: signed_file.SignedFile, peer_created: bool) -> ImportResult:
    _pinned(peer, found)
    records = _records(found)
    outcome = FetchOutcome(peer=peer.name)
    with transaction.atomic():
        locked = Peer.objects.select_for_update().get(pk=peer.pk)
        if found.checkpoint < locked.checkpoint:
            raise ActionError(
                f"this file (up to position {found.checkpoint}) is older than what was already "
                f"imported from {locked.name} (up to position {locked.checkpoint})"
            )
        if found.after > locked.checkpoint:
            raise ActionError(
                f"this file starts after position {found.after}, but what was imported from "
                f"{locked.name} ends at position {locked.checkpoint}: the records in between would be "
                f"missed; ask {found.centre} for a file made with --since {locked.checkpoint}"
            )
        # Each chunk keeps the peer's checkpoint until the last one moves it to the file's: the
        # records carry no positions of their own, and the whole file is applied or none of it.
        chunks = [records[i : i + IMPORT_CHUNK] for i in range(0, len(records), IMPORT_CHUNK)] or [[]]
        position = locked.checkpoint
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            page = client.Page(
                checkpoint=str(found.checkpoint if last else position), has_more=not last, records=chunk
            )
            if not _apply_page(locked.pk, position, page, outcome):
                raise ActionError(f"{locked.name} was updated meanwhile; import the file again")
            position = int(page.checkpoint)
        now = timezone.now()
        Peer.objects.filter(pk=locked.pk).update(last_attempt_at=now, last_success_at=now, last_error="")
        items = ImportedItem.objects.filter(peer_id=locked.pk).count()
        append(
            actor=actor,
            event_type=EventType.SHARING_IMPORTED,
            organisation=locked.organisation_id,
            obj=locked,
            summary={
                "peer": locked.name,
                "centre": found.centre,
                "fingerprint": found.fingerprint,
                "after": found.after,
                "checkpoint": found.checkpoint,
                "records": len(records),
                "added": outcome.added,
                "updated": outcome.updated,
                "removed": outcome.removed,
            },
        )
    return ImportResult(
        peer=locked.name,
        centre=found.centre,
        fingerprint=found.fingerprint,
        records=len(records),
        added=outcome.added,
        updated=outcome.updated,
        removed=outcome.removed,
        checkpoint=found.checkpoint,
        items=items,
        peer_created=peer_created,
    )


def import_for_peer(*, actor: Any, peer: Peer, path: str | os.PathLike[str] | bytes) -> ImportResult:
    """Apply a peer's signed file to its imported bank, as a fetch of the same records would.

    The file must be signed with the key pinned for the peer, must not be older than what was
    imported already, and must start at or before where that ends; a file that fails any check
    changes nothing.  Raises :class:`ActionError` (and :class:`OSError` for a path that cannot be
    read).
    """
    _may_manage(actor, peer)
    return _import(actor, peer, _read(path), peer_created=False)


def import_file(
    *,
    actor: Any,
    organisation: Any,
    peer_name: str,
    path: str | os.PathLike[str] | bytes,
    trust: str | None = None,
) -> ImportResult:
    """``haven sharing import``: import into the organisation's peer ``peer_name``, adding it (its
    key pinned from the file) when it does not exist and ``trust`` is the fingerprint the centre
    gave.  The new peer and the import are one transaction: a refused file adds no peer either."""
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        if actor.organisation_id != organisation.pk:
            raise ActionError("You can only import files for your own organisation.")
    found = _read(path, expected=trust)
    with transaction.atomic():
        peer = Peer.objects.filter(organisation=organisation, name=peer_name.strip()).first()
        if peer is not None:
            return _import(actor, peer, found, peer_created=False)
        if trust is None:
            raise ActionError(
                f"there is no peer {peer_name.strip()!r} yet: the file is signed by {found.centre} with "
                f"fingerprint {found.fingerprint}; if that is the fingerprint {found.centre} gave you "
                "(by phone, in person), import again with --trust and that fingerprint"
            )
        peer = add_file_peer(
            actor=actor, organisation=organisation, name=peer_name, card=found.key_card, fingerprint=trust
        )
        return _import(actor, peer, found, peer_created=True)
