"""Case transfer between centres: every write of an offer's life, on both sides; audited.

Centre A offers a case to centre B (a sharing partner of kind centre that registered its keys):
the bundle holds only the parts the counsellor chose among what the survivor's ``transfer``
consent allows, sealed for B's X25519 key and signed with A's Ed25519 key.  B's worker picks the
offer up with its next fetch from A; B's counsellor accepts (B makes its own case from the bundle
and A's case becomes Transferred, the link kept as B's opaque reference) or rejects; A may revoke
until B accepts.  The same envelope travels as a file where the two servers cannot talk
(``haven transfer export`` / ``import``), and B's answer then travels back as a signed receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, CaseStatus, ConsentMethod, ConsentScope, ContentItem
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .. import client, identity, keys
from ..models import (
    IncomingTransfer,
    OutgoingTransfer,
    PartnerIdentity,
    Peer,
    TransferPart,
    TransferState,
)
from ..signed_file import FileProblem, normalise_fingerprint

ENVELOPE_FORMAT = "haven-transfer/1"
RECEIPT_FORMAT = "haven-transfer-receipt/1"
DEFAULT_PARTS = (TransferPart.HASHES, TransferPart.CLASSIFICATION, TransferPart.CONSENT)
_SECRET_PARTS = {TransferPart.CONTACT, TransferPart.NOTES}
MAX_ENVELOPE = 64 * 2**20
_CLASSIFICATION = ("tfgbv_type", "relationship", "platforms", "minor_when_made")


def _context(offer_id: str, sender: str, recipient: str) -> bytes:
    return f"{ENVELOPE_FORMAT}:{offer_id}:{sender}:{recipient}".encode()


# --- A: offering -------------------------------------------------------------------------------


def _bundle(actor: Any, case: Case, parts: set[str]) -> dict[str, Any]:
    from haven.web.takedown.models import Sighting

    out: dict[str, Any] = {}
    if TransferPart.CLASSIFICATION in parts:
        out["classification"] = {name: getattr(case, name) for name in _CLASSIFICATION}
    if TransferPart.CONSENT in parts:
        state = cases.current_consent(case)
        out["consent"] = sorted(scope for scope, granted in state.items() if granted)
    if TransferPart.HASHES in parts:
        out["items"] = [
            {
                "label": item.label,
                "kind": item.kind,
                "pdq": item.pdq,
                "quality": item.quality,
                "pdq_dihedral": list(item.pdq_dihedral or []),
                "md5": item.md5,
                "sha256": item.sha256,
                "video_frames": item.video_frames or [],
                "extra": item.extra or [],
            }
            for item in ContentItem.objects.filter(case=case, removed_at__isnull=True)
        ]
    if TransferPart.SIGHTINGS in parts:
        out["sightings"] = [
            {"url": s.url, "media_url": s.media_url}
            for s in Sighting.objects.filter(case=case, removed_at__isnull=True)
        ]
    if parts & _SECRET_PARTS:
        revealed = cases.reveal_secrets(actor=actor, case=case)  # the reading is audited
        if TransferPart.CONTACT in parts:
            out["contact"] = revealed.contact
        if TransferPart.NOTES in parts:
            out["notes"] = revealed.notes
    return out


def offer_transfer(
    *, actor: Any, case: Case, partner: Any, parts: Iterable[str] = DEFAULT_PARTS, note: str = ""
) -> OutgoingTransfer:
    """Offer the case to a partner centre (see the module's docstring)."""
    from haven.web.sharing.models import PartnerKind

    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, case)
    same_organisation(actor, partner)
    chosen = set(parts)
    unknown = chosen - set(TransferPart.values)
    if unknown or not chosen:
        raise ActionError(_("Choose what the transfer carries."))
    if chosen & _SECRET_PARTS:
        require(actor, Perm.VIEW_CONTACT)
    if partner.kind != PartnerKind.CENTRE or partner.revoked_at is not None:
        raise ActionError(_("Cases are transferred only to partner centres whose keys are not revoked."))
    their = PartnerIdentity.objects.filter(partner=partner).first()
    if their is None:
        raise ActionError(
            _("%(name)s has not registered its keys yet; it does with its next fetch from this centre.")
            % {"name": partner.name}
        )
    note = note.strip()[:500]
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not cases.current_consent(case).get(ConsentScope.TRANSFER):
            raise ActionError(_("The survivor has not agreed to pass her case to another centre."))
        if case.status == CaseStatus.TRANSFERRED:
            raise ActionError(_("This case has been transferred already."))
        if OutgoingTransfer.objects.filter(case=case, state=TransferState.OFFERED).exists():
            raise ActionError(_("This case is already offered to a centre; revoke that offer first."))
        offer_id = str(uuid.uuid4())
        mine = identity.key_card(case.organisation_id)
        recipient = keys.KeyCard(
            their.centre, keys.unb64(their.signing_key, "key", 32), keys.unb64(their.exchange_key, "key", 32)
        )
        bundle = {"format": ENVELOPE_FORMAT, "offer_id": offer_id, **_bundle(actor, case, chosen)}
        sealed = keys.seal(
            recipient.exchange_key,
            keys.canonical(bundle),
            _context(offer_id, mine.fingerprint, recipient.fingerprint),
        )
        envelope = {
            "format": ENVELOPE_FORMAT,
            "offer_id": offer_id,
            "from": mine.as_dict(),
            "to_fingerprint": recipient.fingerprint,
            "offered_at": int(timezone.now().timestamp()),
            "parts": sorted(chosen),
            "items": len(bundle.get("items", [])),
            "note": note,
            "sealed": sealed,
        }
        envelope["signature"] = keys.b64(identity.sign(case.organisation_id, keys.canonical(envelope)))
        transfer = OutgoingTransfer.objects.create(
            organisation_id=case.organisation_id,
            offer_id=offer_id,
            case=case,
            partner=partner,
            parts=sorted(chosen),
            envelope=json.dumps(envelope).encode(),
            note=note,
            created_by=None if isinstance(actor, str) else actor,
        )
        append(
            actor=actor,
            event_type=EventType.TRANSFER_OFFERED,
            organisation=case.organisation_id,
            obj=case,
            summary={"case": case.number, "to": partner.name, "offer": offer_id, "parts": sorted(chosen)},
        )
    return transfer


def revoke_transfer(*, actor: Any, transfer: OutgoingTransfer) -> OutgoingTransfer:
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    with transaction.atomic():
        t = OutgoingTransfer.objects.select_for_update().select_related("case", "partner").get(pk=transfer.pk)
        if t.state != TransferState.OFFERED:
            raise ActionError(_("Only an offer that is still open can be revoked."))
        t.state = TransferState.REVOKED
        t.decided_at = timezone.now()
        t.envelope = b""  # the sealed bundle is of no use to anyone any more
        t.save(update_fields=["state", "decided_at", "envelope"])
        append(
            actor=actor,
            event_type=EventType.TRANSFER_REVOKED,
            organisation=t.organisation_id,
            obj=t.case,
            summary={"case": t.case.number, "to": t.partner.name, "offer": str(t.offer_id)},
        )
    return t


def withdraw_offers(case: Case) -> int:
    """The survivor withdrew her transfer consent (or erased her data): every open offer of her
    case is revoked inside the withdrawal, so that no centre can accept it any more."""
    open_offers = list(
        OutgoingTransfer.objects.select_for_update()
        .select_related("partner")
        .filter(case=case, state=TransferState.OFFERED)
    )
    for t in open_offers:
        t.state = TransferState.REVOKED
        t.decided_at = timezone.now()
        t.envelope = b""
        t.save(update_fields=["state", "decided_at", "envelope"])
        append(
            actor="consent withdrawn",
            event_type=EventType.TRANSFER_REVOKED,
            organisation=case.organisation_id,
            obj=case,
            summary={"case": case.number, "to": t.partner.name, "offer": str(t.offer_id), "why": "consent"},
        )
    return len(open_offers)


class TransferConflict(ActionError):
    """The offer is no longer open (revoked, or decided the other way); ``state`` says which."""

    def __init__(self, message: str, state: str = "") -> None:
        super().__init__(message)
        self.state = state


def answer_transfer(*, partner: Any, offer_id: str, accept: bool, reference: str = "") -> OutgoingTransfer:
    """The receiving centre's answer (over the API, or from a receipt file); idempotent."""
    wanted = TransferState.ACCEPTED if accept else TransferState.REJECTED
    with transaction.atomic():
        t = (
            OutgoingTransfer.objects.select_for_update()
            .select_related("case")
            .filter(partner=partner, offer_id=offer_id)
            .first()
        )
        if t is None:
            raise ActionError(_("No such offer was made to you."))
        if t.state == wanted:
            return t
        if t.state != TransferState.OFFERED:
            raise TransferConflict(
                _("The offer is %(state)s.") % {"state": TransferState(t.state).label.lower()}, state=t.state
            )
        case = Case.objects.select_for_update().get(pk=t.case_id)
        if accept and not cases.current_consent(case).get(ConsentScope.TRANSFER):
            # A withdrawal revokes open offers; this is the last guard before the case moves.
            raise TransferConflict(
                _("The survivor no longer agrees to the transfer."), state=TransferState.REVOKED
            )
        t.state = wanted
        t.decided_at = timezone.now()
        t.their_reference = reference[:64]
        t.envelope = b""
        t.save(update_fields=["state", "decided_at", "their_reference", "envelope"])
        label = f"centre:{partner.name}"[:150]
        if accept:
            old = case.status
            Case.objects.filter(pk=case.pk).update(status=CaseStatus.TRANSFERRED, updated_at=timezone.now())
            append(
                actor=label,
                event_type=EventType.CASE_STATUS_CHANGED,
                organisation=case.organisation_id,
                obj=case,
                summary={"from": old, "to": CaseStatus.TRANSFERRED},
            )
        append(
            actor=label,
            event_type=EventType.TRANSFER_ACCEPTED if accept else EventType.TRANSFER_REJECTED,
            organisation=case.organisation_id,
            obj=case,
            summary={"case": case.number, "to": partner.name, "offer": offer_id},
        )
    return t


def register_partner_keys(*, partner: Any, card: keys.KeyCard) -> bool:
    """A partner centre tells us its public keys; the first ones are kept (True when new)."""
    current = PartnerIdentity.objects.filter(partner=partner).first()
    signing, exchange = keys.b64(card.signing_key), keys.b64(card.exchange_key)
    if current is not None:
        if (current.signing_key, current.exchange_key) != (signing, exchange):
            raise TransferConflict(
                _(
                    "These are not the keys this centre registered before; "
                    "ask the other centre's administrator."
                )
            )
        return False
    with transaction.atomic():
        PartnerIdentity.objects.create(
            partner=partner, signing_key=signing, exchange_key=exchange, centre=card.centre
        )
        append(
            actor=f"centre:{partner.name}"[:150],
            event_type=EventType.CENTRE_KEYS_REGISTERED,
            organisation=partner.organisation_id,
            obj=partner,
            summary={"name": partner.name, "fingerprint": card.fingerprint},
        )
    return True


def offers_for(partner: Any) -> list[dict[str, Any]]:
    """What the partner's fetch of ``transfers`` returns: its open offers with their envelopes,
    and the ones revoked in the last 30 days (so that it can close them)."""
    recent = timezone.now() - dt.timedelta(days=30)
    rows = OutgoingTransfer.objects.filter(partner=partner).filter(
        state=TransferState.OFFERED
    ) | OutgoingTransfer.objects.filter(partner=partner, state=TransferState.REVOKED, decided_at__gte=recent)
    out = []
    for t in rows.order_by("created_at")[:500]:
        entry: dict[str, Any] = {"offer_id": str(t.offer_id), "state": t.state}
        if t.state == TransferState.OFFERED:
            entry["envelope"] = json.loads(bytes(t.envelope))
        out.append(entry)
    return out


def export_transfer(*, actor: Any, transfer: OutgoingTransfer) -> bytes:
    """The offer's envelope as a file, for a centre this server cannot reach."""
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    if transfer.state != TransferState.OFFERED:
        raise ActionError(_("Only an offer that is still open can be written to a file."))
    with transaction.atomic():
        OutgoingTransfer.objects.filter(pk=transfer.pk).update(exported_at=timezone.now())
        append(
            actor=actor,
            event_type=EventType.TRANSFER_EXPORTED,
            organisation=transfer.organisation_id,
            obj=transfer.case,
            summary={"case": transfer.case.number, "offer": str(transfer.offer_id)},
        )
    return bytes(transfer.envelope)


# --- B: receiving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    offer_id: str
    sender: keys.KeyCard
    to_fingerprint: str
    offered_at: int
    parts: list[str]
    items: int
    note: str
    raw: dict[str, Any]


def read_envelope(data: Any) -> Envelope:
    """Check an envelope's shape and its sender's signature (not yet who the sender is)."""
    if not isinstance(data, dict) or data.get("format") != ENVELOPE_FORMAT:
        raise keys.KeyProblem("this is not a Haven case transfer (format haven-transfer/1)")
    body = {k: v for k, v in data.items() if k != "signature"}
    try:
        offer_id = str(uuid.UUID(str(data.get("offer_id"))))
    except ValueError:
        raise keys.KeyProblem("the transfer has no valid offer id") from None
    sender = keys.KeyCard.from_dict(data.get("from"))
    try:
        signed = keys.canonical(body)
    except (UnicodeError, ValueError):
        raise keys.KeyProblem("the transfer holds text that is not valid Unicode") from None
    keys.verify(sender.signing_key, signed, keys.unb64(data.get("signature"), "signature", 64))
    parts = data.get("parts")
    if not isinstance(parts, list) or not set(parts) <= set(TransferPart.values):
        raise keys.KeyProblem("the transfer lists parts this server does not know")
    items, offered_at, note = data.get("items"), data.get("offered_at"), data.get("note", "")
    if not isinstance(items, int) or not isinstance(offered_at, int) or not isinstance(note, str):
        raise keys.KeyProblem("the transfer's header is incomplete")
    if not 0 <= items <= 100_000 or not 0 <= offered_at <= 2**40:
        raise keys.KeyProblem("the transfer's header holds numbers out of range")
    to = data.get("to_fingerprint")
    if not isinstance(to, str):
        raise keys.KeyProblem("the transfer does not say whom it is for")
    return Envelope(offer_id, sender, to, offered_at, parts, items, note[:500], data)


def receive_offer(
    *, organisation_id: int, envelope: Envelope, peer: Peer | None, actor: Any = "worker"
) -> IncomingTransfer | None:
    """File an offer (from a peer's fetch or a file); None when it was filed before."""
    mine = identity.key_card(organisation_id)
    if envelope.to_fingerprint != mine.fingerprint:
        raise keys.KeyProblem("the transfer is sealed for another centre's key")
    existing = IncomingTransfer.objects.filter(
        organisation_id=organisation_id, offer_id=envelope.offer_id
    ).first()
    if existing is not None:
        return None
    with transaction.atomic():
        transfer = IncomingTransfer.objects.create(
            organisation_id=organisation_id,
            offer_id=envelope.offer_id,
            peer=peer,
            from_centre=envelope.sender.centre,
            sender_signing_key=keys.b64(envelope.sender.signing_key),
            envelope=json.dumps(envelope.raw).encode(),
            parts=envelope.parts,
            items=envelope.items,
            note=envelope.note,
            offered_at=dt.datetime.fromtimestamp(envelope.offered_at, tz=dt.UTC),
        )
        append(
            actor=actor,
            event_type=EventType.TRANSFER_RECEIVED,
            organisation=organisation_id,
            obj=transfer,
            summary={"from": envelope.sender.centre, "offer": envelope.offer_id, "items": envelope.items},
        )
    return transfer


def sync_with_peer(peer: Peer, peer_keys: dict[str, str]) -> int:
    """Exchange keys with the peer and pick up its offers; returns how many new offers arrived.

    The peer's keys are pinned the first time they are seen; a change is an error that an
    administrator resolves (a peer whose keys change may not be who it was)."""
    try:
        answer = client.get_json(peer.url, peer_keys, "identity", "fetch_key")
    except client.PeerError as exc:
        if exc.status == 404:  # a server that serves the feed but takes no transfers (an older Haven)
            return 0
        raise
    try:
        card = keys.KeyCard.from_dict(answer)
    except keys.KeyProblem as exc:
        raise client.PeerError(f"the peer's key card is not valid: {exc}") from None
    signing, exchange = keys.b64(card.signing_key), keys.b64(card.exchange_key)
    if not peer.signing_key:
        with transaction.atomic():
            Peer.objects.filter(pk=peer.pk).update(signing_key=signing, exchange_key=exchange)
            append(
                actor="worker",
                event_type=EventType.CENTRE_KEYS_REGISTERED,
                organisation=peer.organisation_id,
                obj=peer,
                summary={"name": peer.name, "fingerprint": card.fingerprint},
            )
        peer.signing_key, peer.exchange_key = signing, exchange
    elif (peer.signing_key, peer.exchange_key) != (signing, exchange):
        raise client.PeerError(
            "the peer's centre keys changed since they were first seen; remove and add the peer again "
            "once the centres have compared fingerprints"
        )
    client.put_json(
        peer.url, peer_keys, "identity", "feedback_key", identity.key_card(peer.organisation_id).as_dict()
    )
    offers = client.get_json(peer.url, peer_keys, "transfers", "fetch_key")
    if not isinstance(offers, list):
        raise client.PeerError("the peer's list of transfer offers is not a list")
    new = 0
    for entry in offers[:500]:
        if not isinstance(entry, dict):
            continue
        offer_id, state = str(entry.get("offer_id", "")), entry.get("state")
        if state == TransferState.REVOKED:
            _mark_revoked(peer, offer_id)
            continue
        try:
            envelope = read_envelope(entry.get("envelope"))
        except keys.KeyProblem as exc:
            raise client.PeerError(f"the peer sent a transfer offer that is not valid: {exc}") from None
        if keys.b64(envelope.sender.signing_key) != peer.signing_key:
            raise client.PeerError("the peer sent a transfer offer signed by another key")
        try:
            if receive_offer(organisation_id=peer.organisation_id, envelope=envelope, peer=peer) is not None:
                new += 1
        except keys.KeyProblem as exc:
            raise client.PeerError(f"a transfer offer: {exc}") from None
    return new


def close_offers_of(peer: Peer) -> None:
    """The peer is removed: its offers can no longer be answered to it, so they close here."""
    for t in IncomingTransfer.objects.filter(
        peer=peer, state__in=[TransferState.OFFERED, TransferState.DECIDING]
    ):
        _close(t, TransferState.REVOKED)


def _mark_revoked(peer: Peer, offer_id: str) -> None:
    found = IncomingTransfer.objects.filter(
        organisation_id=peer.organisation_id, peer=peer, offer_id=offer_id, state=TransferState.OFFERED
    ).first()
    if found is not None:
        _close(found, TransferState.REVOKED)


def _open(transfer: IncomingTransfer) -> dict[str, Any]:
    envelope = read_envelope(json.loads(bytes(transfer.envelope)))
    if keys.b64(envelope.sender.signing_key) != transfer.sender_signing_key:
        raise keys.KeyProblem("the stored offer was changed")
    mine = identity.key_card(transfer.organisation_id)
    plain = identity.open_sealed(
        transfer.organisation_id,
        envelope.raw.get("sealed"),
        _context(envelope.offer_id, envelope.sender.fingerprint, mine.fingerprint),
    )
    bundle = json.loads(plain)
    if not isinstance(bundle, dict) or bundle.get("offer_id") != envelope.offer_id:
        raise keys.KeyProblem("the sealed bundle does not belong to this offer")
    return bundle


def _decided(actor: Any, transfer: IncomingTransfer, state: str = TransferState.OFFERED) -> IncomingTransfer:
    """The offer, locked, if it is in ``state`` (open, or claimed by this answer)."""
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    # of=self: PostgreSQL cannot lock the nullable side of the outer join to the peer.
    t = IncomingTransfer.objects.select_for_update(of=("self",)).select_related("peer").get(pk=transfer.pk)
    if t.state != state:
        raise ActionError(_("This offer is %(state)s.") % {"state": TransferState(t.state).label.lower()})
    return t


STALE_ANSWER = dt.timedelta(minutes=10)


def _claim(transfer: IncomingTransfer) -> None:
    """Take the offer for one answer with a conditional UPDATE, before the offering centre is told:
    two colleagues answering at once (accept and reject) cannot both reach it.  An answer that
    died half-way (its claim older than :data:`STALE_ANSWER`) may be given again."""
    from django.db.models import Q

    now = timezone.now()
    free = Q(state=TransferState.OFFERED) | Q(state=TransferState.DECIDING, decided_at__lt=now - STALE_ANSWER)
    if not IncomingTransfer.objects.filter(free, pk=transfer.pk).update(
        state=TransferState.DECIDING, decided_at=now
    ):
        current = IncomingTransfer.objects.get(pk=transfer.pk).state
        raise ActionError(_("This offer is %(state)s.") % {"state": TransferState(current).label.lower()})


def _release(transfer: IncomingTransfer) -> None:
    IncomingTransfer.objects.filter(pk=transfer.pk, state=TransferState.DECIDING).update(
        state=TransferState.OFFERED, decided_at=None
    )


def _tell_sender(t: IncomingTransfer, *, accept: bool, reference: str) -> None:
    """Tell the offering centre; a refusal there (revoked meanwhile) undoes everything here."""
    if t.peer is None or not t.peer.url:
        return
    from .peers import peer_keys

    try:
        client.post_json(
            t.peer.url,
            peer_keys(t.peer),
            f"transfers/{t.offer_id}",
            "feedback_key",
            {"decision": "accept" if accept else "reject", "reference": reference},
        )
    except client.PeerError as exc:
        if exc.status == 409:
            state = str((exc.body or {}).get("state", "")) if isinstance(exc.body, dict) else ""
            raise TransferConflict(
                _("%(centre)s no longer offers this case: %(why)s") % {"centre": t.from_centre, "why": exc},
                state=state if state in TransferState.values else TransferState.REVOKED,
            ) from None
        raise ActionError(
            _("%(centre)s cannot be told now (%(why)s); try again later.")
            % {"centre": t.from_centre, "why": exc}
        ) from None


def _reference(transfer: IncomingTransfer) -> str:
    """Our opaque reference for the case an offer became: the same every time it is asked for,
    telling the offering centre nothing (not our case number, half of the survivor's portal login)."""
    mac = hmac.new(
        settings.SECRET_KEY.encode(), f"haven.transfer:{transfer.offer_id}".encode(), hashlib.sha256
    )
    return "hvt-" + mac.hexdigest()[:24]


def _classification(given: dict[str, Any]) -> dict[str, Any]:
    """The bundle's classification, kept only where it is a value this centre knows."""
    from haven.web.cases.classification import Relationship, TfgbvType

    out: dict[str, Any] = {}
    if given.get("tfgbv_type") in TfgbvType.values:
        out["tfgbv_type"] = given["tfgbv_type"]
    if given.get("relationship") in Relationship.values:
        out["relationship"] = given["relationship"]
    if isinstance(given.get("platforms"), str):
        out["platforms"] = given["platforms"][:500]
    if isinstance(given.get("minor_when_made"), bool):
        out["minor_when_made"] = given["minor_when_made"]
    return out


class _DryRun(Exception):
    pass


def _make_case(actor: Any, t: IncomingTransfer, bundle: dict[str, Any]) -> Case:
    """Our own case from an opened bundle, inside the caller's transaction."""
    from haven.web.takedown.actions import insert_sightings
    from haven.web.takedown.models import SightingSource

    classification = bundle.get("classification") or {}
    fields = _classification(classification if isinstance(classification, dict) else {})
    case = cases.create_case(
        actor=actor,
        contact=str(bundle.get("contact", ""))[:10_000],
        notes=str(bundle.get("notes", ""))[:100_000],
        **fields,
    )
    for scope in bundle.get("consent") or ():
        if scope in ConsentScope.values:
            cases.record_consent(
                actor=actor,
                case=case,
                scope=scope,
                granted=True,
                method=ConsentMethod.TRANSFERRED,
                note=_("Given at %(centre)s") % {"centre": t.from_centre},
            )
    items = [
        cases.HashInput(
            label=str(i.get("label", ""))[:100] or _("transferred item"),
            pdq=i.get("pdq") or "",
            quality=i.get("quality"),
            pdq_dihedral=tuple(i.get("pdq_dihedral") or ()),
            md5=i.get("md5") or "",
            sha256=i.get("sha256") or "",
            kind=i.get("kind") or "photo",
            video_frames=tuple(tuple(f) for f in i.get("video_frames") or ()),
            extra=i.get("extra") or (),
        )
        for i in bundle.get("items") or ()
        if isinstance(i, dict)
    ]
    if items:
        cases.add_content(actor=actor, case=case, items=items)
    for sighting in [s for s in bundle.get("sightings") or () if isinstance(s, dict) and s.get("url")][:1000]:
        insert_sightings(
            actor=actor,
            case=case,
            urls=[str(sighting["url"])],
            source=SightingSource.CENTRE,
            media_url=str(sighting.get("media_url") or ""),
        )
    return case


def accept_transfer(*, actor: Any, transfer: IncomingTransfer) -> Case:
    """Open the bundle, tell the offering centre, and make our own case from the bundle.

    The case is first made and thrown away, so that a bundle this centre cannot take (a hash
    it refuses, say) is found before the other centre is told; then the offer is claimed (see
    :func:`_claim`) and the offering centre told, outside any transaction (its answer may take
    seconds).  A refusal there (revoked meanwhile) changes nothing here but the offer's state;
    an answer that fails after telling it can be given again (the offering centre takes the same
    answer twice).
    """
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    current = IncomingTransfer.objects.get(pk=transfer.pk)
    if current.state not in (TransferState.OFFERED, TransferState.DECIDING):
        raise ActionError(
            _("This offer is %(state)s.") % {"state": TransferState(current.state).label.lower()}
        )
    try:
        bundle = _open(current)
    except (keys.KeyProblem, ValueError) as exc:
        raise ActionError(_("The offer cannot be opened: %(why)s") % {"why": exc}) from None
    try:
        with transaction.atomic():
            _make_case(actor, _decided(actor, transfer, current.state), bundle)
            raise _DryRun
    except _DryRun:
        pass
    _claim(transfer)
    try:
        _tell_sender(transfer, accept=True, reference=_reference(transfer))
    except TransferConflict as exc:
        _close(transfer, exc.state)
        raise
    except BaseException:
        _release(transfer)
        raise
    try:
        with transaction.atomic():
            t = _decided(actor, transfer, TransferState.DECIDING)
            case = _make_case(actor, t, bundle)
            t.state = TransferState.ACCEPTED
            t.case = case
            t.decided_by = actor
            t.decided_at = timezone.now()
            t.envelope = b""  # the case holds what the bundle carried, encrypted where it must be
            t.save(update_fields=["state", "case", "decided_by", "decided_at", "envelope"])
            append(
                actor=actor,
                event_type=EventType.TRANSFER_ACCEPTED,
                organisation=case.organisation_id,
                obj=case,
                summary={"case": case.number, "from": t.from_centre, "offer": str(t.offer_id)},
            )
    except BaseException:
        _release(transfer)
        raise
    return case


_CLOSING_EVENT: dict[str, EventType] = {
    TransferState.REVOKED: EventType.TRANSFER_REVOKED,
    TransferState.REJECTED: EventType.TRANSFER_REJECTED,
    TransferState.ACCEPTED: EventType.TRANSFER_ACCEPTED,
}


def _close(transfer: IncomingTransfer, state: str) -> None:
    """The offering centre says the offer is closed (``state``): record that here, audited."""
    if state == TransferState.ACCEPTED:
        # It holds an acceptance from us that did not finish here: the offer stays open to accept.
        _release(transfer)
        return
    with transaction.atomic():
        changed = IncomingTransfer.objects.filter(
            pk=transfer.pk, state__in=[TransferState.OFFERED, TransferState.DECIDING]
        ).update(state=state, decided_at=timezone.now(), envelope=b"")
        if changed:
            append(
                actor="worker",
                event_type=_CLOSING_EVENT.get(state, EventType.TRANSFER_REVOKED),
                organisation=transfer.organisation_id,
                obj=transfer,
                summary={"from": transfer.from_centre, "offer": str(transfer.offer_id), "state": state},
            )


def reject_transfer(*, actor: Any, transfer: IncomingTransfer) -> IncomingTransfer:
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    _claim(transfer)
    try:
        _tell_sender(transfer, accept=False, reference="")
    except TransferConflict as exc:
        _close(transfer, exc.state)
        if exc.state == TransferState.ACCEPTED:
            raise ActionError(
                _("%(centre)s has recorded an acceptance of this offer from here; accept it to finish.")
                % {"centre": transfer.from_centre}
            ) from None
        raise
    except BaseException:
        _release(transfer)
        raise
    with transaction.atomic():
        t = _decided(actor, transfer, TransferState.DECIDING)
        t.state = TransferState.REJECTED
        t.decided_by = actor
        t.decided_at = timezone.now()
        t.envelope = b""
        t.save(update_fields=["state", "decided_by", "decided_at", "envelope"])
        append(
            actor=actor,
            event_type=EventType.TRANSFER_REJECTED,
            organisation=t.organisation_id,
            obj=t,
            summary={"from": t.from_centre, "offer": str(t.offer_id)},
        )
    return t


def receipt(*, actor: Any, transfer: IncomingTransfer) -> bytes:
    """A signed receipt of our decision, for the offering centre to import when it cannot be told."""
    require(actor, Perm.TRANSFER_CASES)
    same_organisation(actor, transfer)
    if transfer.state not in (TransferState.ACCEPTED, TransferState.REJECTED):
        raise ActionError(_("Only a decided offer has a receipt."))
    append_read(
        actor=actor,
        event_type=EventType.TRANSFER_EXPORTED,
        organisation=transfer.organisation_id,
        obj=transfer,
        summary={"offer": str(transfer.offer_id), "receipt": transfer.state},
    )
    body = {
        "format": RECEIPT_FORMAT,
        "offer_id": str(transfer.offer_id),
        "decision": "accept" if transfer.state == TransferState.ACCEPTED else "reject",
        "reference": _reference(transfer) if transfer.state == TransferState.ACCEPTED else "",
        "from": identity.key_card(transfer.organisation_id).as_dict(),
    }
    body["signature"] = keys.b64(identity.sign(transfer.organisation_id, keys.canonical(body)))
    return json.dumps(body).encode()


def import_file(*, actor: Any, organisation: Any, data: bytes, trust: str = "") -> Any:
    """Import a transfer file: an offer (on the receiving side) or a receipt (on the offering side).

    An offer's sender must be a peer whose keys are pinned here, or the fingerprint the operator
    confirmed with the other centre (``trust``)."""
    from haven.web.sharing.models import Partner

    require(actor, Perm.TRANSFER_CASES)
    if len(data) > MAX_ENVELOPE:
        raise ActionError(_("The file is too large to be a transfer."))
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ActionError(_("The file is not a Haven transfer (not JSON).")) from None
    org_id = getattr(organisation, "pk", organisation)
    try:
        if isinstance(raw, dict) and raw.get("format") == RECEIPT_FORMAT:
            body = {k: v for k, v in raw.items() if k != "signature"}
            card = keys.KeyCard.from_dict(raw.get("from"))
            keys.verify(
                card.signing_key, keys.canonical(body), keys.unb64(raw.get("signature"), "signature", 64)
            )
            signer = keys.b64(card.signing_key)
            t = OutgoingTransfer.objects.filter(
                organisation_id=org_id, offer_id=str(raw.get("offer_id"))
            ).first()
            if t is None:
                raise ActionError(_("This centre made no such offer."))
            their = PartnerIdentity.objects.filter(partner_id=t.partner_id).first()
            if their is None or their.signing_key != signer:
                raise ActionError(_("The receipt is not signed by the centre the offer was made to."))
            partner = Partner.objects.get(pk=t.partner_id)
            return answer_transfer(
                partner=partner,
                offer_id=str(t.offer_id),
                accept=raw.get("decision") == "accept",
                reference=str(raw.get("reference", "")),
            )
        envelope = read_envelope(raw)
    except keys.KeyProblem as exc:
        raise ActionError(str(exc)) from None
    signer = keys.b64(envelope.sender.signing_key)
    peer = Peer.objects.filter(organisation_id=org_id, signing_key=signer).first()
    if peer is None:
        try:
            trusted = normalise_fingerprint(trust) == normalise_fingerprint(envelope.sender.fingerprint)
        except FileProblem:  # none given, or not a fingerprint
            trusted = False
        if not trusted:
            raise ActionError(
                _(
                    "%(centre)s (fingerprint %(fp)s) is not a peer of this centre: compare the fingerprint "
                    "with that centre by phone, then import again trusting it."
                )
                % {"centre": envelope.sender.centre, "fp": envelope.sender.fingerprint}
            )
    try:
        found = receive_offer(organisation_id=org_id, envelope=envelope, peer=peer, actor=actor)
    except keys.KeyProblem as exc:
        raise ActionError(str(exc)) from None
    if found is None:
        raise ActionError(_("This offer was imported before."))
    return found
