"""Case transfer between centres: A offers, B picks the offer up with its fetch, accepts or
rejects; A may revoke until B accepts; the same offer travels as a file, and B's answer as a
signed receipt."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, CaseStatus, ConsentRecord, ContentItem
from haven.web.core.errors import ActionError, NotFound
from haven.web.federation import actions, identity
from haven.web.federation.actions import transfers
from haven.web.federation.models import (
    CentreIdentity,
    IncomingTransfer,
    OutgoingTransfer,
    PartnerIdentity,
    Peer,
)
from haven.web.sharing.models import Partner
from tests.web.conftest import Persona
from tests.web.sharing.conftest import add_photos

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def linked(a_peer: Peer) -> Peer:
    """B fetched from A once: the centres know each other's keys."""
    assert actions.fetch_peer(a_peer.pk).error == ""
    return a_peer


@pytest.fixture
def movable(case: Case, counsellor: Persona) -> Case:
    """A's case: the survivor agreed to a transfer; two photos."""
    cases.record_consent(actor=counsellor.user, case=case, scope="transfer", granted=True, method="in_person")
    cases.record_consent(actor=counsellor.user, case=case, scope="takedown", granted=True, method="in_person")
    add_photos(counsellor, case, 2)
    return case


def _partner_b() -> Partner:
    return Partner.objects.get(name="Centre B")


def _offer(counsellor: Persona, case: Case, **kwargs: Any) -> OutgoingTransfer:
    return transfers.offer_transfer(actor=counsellor.user, case=case, partner=_partner_b(), **kwargs)


def test_a_fetch_exchanges_the_centres_keys(linked: Peer) -> None:
    linked.refresh_from_db()
    a_card = identity.key_card(_partner_b().organisation_id)
    assert linked.signing_key
    assert identity.key_card(linked.organisation_id)
    their = PartnerIdentity.objects.get(partner=_partner_b())
    assert their.signing_key == identity.identity(linked.organisation_id).signing_public
    assert linked.signing_key == identity.identity(_partner_b().organisation_id).signing_public
    assert a_card.fingerprint.count(" ") == 7
    pinned = AuditEvent.objects.filter(event_type=EventType.CENTRE_KEYS_REGISTERED)
    assert sorted(pinned.values_list("object_type", flat=True)) == ["federation.Peer", "sharing.Partner"]


def test_a_peer_whose_keys_change_is_refused(linked: Peer) -> None:
    CentreIdentity.objects.filter(organisation_id=_partner_b().organisation_id).delete()
    outcome = actions.fetch_peer(linked.pk)
    assert "keys changed" in outcome.error


def test_an_offer_travels_with_the_fetch_and_an_acceptance_makes_bs_own_case(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable, note="She moved to your city; prefers text messages.")
    assert offer.state == "offered"
    sealed = bytes(offer.envelope)
    assert movable.number.encode() not in sealed
    assert not any(i.pdq.encode() in sealed for i in ContentItem.objects.filter(case=movable))
    assert actions.fetch_peer(linked.pk).offers == 1
    incoming = IncomingTransfer.objects.get()
    items = ContentItem.objects.filter(case=movable).count()
    assert (incoming.from_centre, incoming.items, incoming.state) == ("Centre A", items, "offered")
    assert incoming.note == "She moved to your city; prefers text messages."
    assert actions.fetch_peer(linked.pk).offers == 0  # not twice

    made = transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    assert made.organisation_id == b_counsellor.user.organisation_id
    assert made.number != movable.number
    assert set(ContentItem.objects.filter(case=made).values_list("pdq", flat=True)) == set(
        ContentItem.objects.filter(case=movable).values_list("pdq", flat=True)
    )
    assert (made.tfgbv_type, made.relationship) == (movable.tfgbv_type, movable.relationship)
    assert made.contact_encrypted is None  # contact details were not chosen
    granted = {r.scope for r in ConsentRecord.objects.filter(case=made, granted=True)}
    assert granted == {"transfer", "takedown", "share"}  # as at A (the fixture shares the case)
    assert set(ConsentRecord.objects.filter(case=made).values_list("method", flat=True)) == {"transferred"}
    incoming.refresh_from_db()
    assert (incoming.state, incoming.case_id) == ("accepted", made.pk)
    offer.refresh_from_db()
    movable.refresh_from_db()
    assert offer.state == "accepted"
    assert offer.their_reference.startswith("hvt-")
    assert made.number not in offer.their_reference
    assert movable.status == CaseStatus.TRANSFERRED
    types = set(AuditEvent.objects.values_list("event_type", flat=True))
    assert {EventType.TRANSFER_OFFERED, EventType.TRANSFER_RECEIVED, EventType.TRANSFER_ACCEPTED} <= types
    with pytest.raises(ActionError, match="accepted"):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)


def test_contact_details_travel_only_when_chosen(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    _offer(counsellor, movable, parts=["hashes", "contact", "notes"])
    actions.fetch_peer(linked.pk)
    made = transfers.accept_transfer(actor=b_counsellor.user, transfer=IncomingTransfer.objects.get())
    revealed = cases.reveal_secrets(actor=b_counsellor.user, case=made)
    original = cases.reveal_secrets(actor=counsellor.user, case=movable)
    assert (revealed.contact, revealed.notes) == (original.contact, original.notes)
    assert made.tfgbv_type == ""  # classification was not chosen


def test_an_offer_needs_the_survivors_consent_keys_and_the_right_role(
    linked: Peer, case: Case, counsellor: Persona, officer: Persona, outsider: Persona, admin: Persona
) -> None:
    with pytest.raises(ActionError, match="has not agreed"):
        _offer(counsellor, case)
    cases.record_consent(actor=counsellor.user, case=case, scope="transfer", granted=True, method="phone")
    with pytest.raises(PermissionDenied):
        transfers.offer_transfer(actor=officer.user, case=case, partner=_partner_b())
    with pytest.raises(NotFound):
        transfers.offer_transfer(actor=outsider.user, case=case, partner=_partner_b())
    platform = Partner.objects.create(organisation=case.organisation, name="Platform", kind="platform")
    with pytest.raises(ActionError, match="only to partner centres"):
        transfers.offer_transfer(actor=counsellor.user, case=case, partner=platform)
    other = Partner.objects.create(organisation=case.organisation, name="Centre C", kind="centre")
    with pytest.raises(ActionError, match="not registered its keys"):
        transfers.offer_transfer(actor=counsellor.user, case=case, partner=other)
    with pytest.raises(ActionError, match="Choose"):
        _offer(counsellor, case, parts=["everything"])
    _offer(counsellor, case)
    with pytest.raises(ActionError, match="already offered"):
        _offer(counsellor, case)
    assert OutgoingTransfer.objects.count() == 1


def test_a_revoked_offer_closes_at_b_and_cannot_be_accepted(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    transfers.revoke_transfer(actor=counsellor.user, transfer=offer)
    actions.fetch_peer(linked.pk)
    incoming = IncomingTransfer.objects.get()
    assert incoming.state == "revoked"
    with pytest.raises(ActionError, match="revoked"):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    assert Case.objects.filter(organisation_id=b_counsellor.user.organisation_id).count() == 0


def test_a_revocation_that_b_has_not_fetched_yet_still_wins(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    transfers.revoke_transfer(actor=counsellor.user, transfer=offer)
    incoming = IncomingTransfer.objects.get()
    with pytest.raises(ActionError, match="no longer offers"):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    incoming.refresh_from_db()
    assert incoming.state == "revoked"
    assert Case.objects.filter(organisation_id=b_counsellor.user.organisation_id).count() == 0
    movable.refresh_from_db()
    assert movable.status != CaseStatus.TRANSFERRED


def test_a_rejection_leaves_as_case_as_it_was(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    transfers.reject_transfer(actor=b_counsellor.user, transfer=IncomingTransfer.objects.get())
    offer.refresh_from_db()
    movable.refresh_from_db()
    assert offer.state == "rejected"
    assert movable.status != CaseStatus.TRANSFERRED
    with pytest.raises(ActionError, match="Only an offer that is still open"):
        transfers.revoke_transfer(actor=counsellor.user, transfer=offer)


def test_an_offer_as_a_file_and_its_receipt(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    data = transfers.export_transfer(actor=counsellor.user, transfer=offer)
    b_org = b_counsellor.user.organisation
    # B cannot reach A: its peer has no address any more; the file is signed by a pinned key.
    Peer.objects.filter(pk=linked.pk).update(url="")
    incoming = transfers.import_file(actor=b_counsellor.user, organisation=b_org, data=data)
    assert isinstance(incoming, IncomingTransfer)
    with pytest.raises(ActionError, match="imported before"):
        transfers.import_file(actor=b_counsellor.user, organisation=b_org, data=data)
    transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    offer.refresh_from_db()
    assert offer.state == "offered"  # A does not know yet
    incoming.refresh_from_db()
    receipt = transfers.receipt(actor=b_counsellor.user, transfer=incoming)
    done = transfers.import_file(actor=counsellor.user, organisation=movable.organisation, data=receipt)
    assert done.state == "accepted"
    movable.refresh_from_db()
    assert movable.status == CaseStatus.TRANSFERRED


def test_a_file_from_a_centre_that_is_not_a_peer_needs_its_fingerprint(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    data = transfers.export_transfer(actor=counsellor.user, transfer=_offer(counsellor, movable))
    Peer.objects.filter(pk=linked.pk).update(signing_key="")
    b_org = b_counsellor.user.organisation
    with pytest.raises(ActionError, match="is not a peer of this centre"):
        transfers.import_file(actor=b_counsellor.user, organisation=b_org, data=data)
    with pytest.raises(ActionError, match="is not a peer of this centre"):
        transfers.import_file(actor=b_counsellor.user, organisation=b_org, data=data, trust="0000 1111")
    fingerprint = identity.key_card(movable.organisation_id).fingerprint
    assert transfers.import_file(actor=b_counsellor.user, organisation=b_org, data=data, trust=fingerprint)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e.update(items=99),
        lambda e: e.update(parts=["hashes", "contact"]),
        lambda e: e["sealed"].update(box=e["sealed"]["box"][:-8] + "AAAAAAA="),
        lambda e: e.update(signature=e["signature"][:-4] + "AAA="),
        lambda e: e.update(format="something-else"),
        lambda e: e.pop("signature"),
    ],
)
def test_a_changed_file_is_refused_and_changes_nothing(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona, tamper: Any
) -> None:
    envelope = json.loads(
        transfers.export_transfer(actor=counsellor.user, transfer=_offer(counsellor, movable))
    )
    tamper(envelope)
    with pytest.raises(ActionError):
        transfers.import_file(
            actor=b_counsellor.user,
            organisation=b_counsellor.user.organisation,
            data=json.dumps(envelope).encode(),
        )
    assert IncomingTransfer.objects.count() == 0


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b'{"format": "haven-transfer/1"}', b"\xff\xfe"])
def test_garbage_is_not_a_transfer(data: bytes, b_counsellor: Persona) -> None:
    with pytest.raises(ActionError):
        transfers.import_file(actor=b_counsellor.user, organisation=b_counsellor.user.organisation, data=data)
    assert IncomingTransfer.objects.count() == 0


def test_a_sealed_bundle_for_another_centre_cannot_be_opened_here(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    incoming = IncomingTransfer.objects.get()
    # B's keys are replaced after the offer was sealed for the old ones.
    CentreIdentity.objects.filter(organisation_id=incoming.organisation_id).delete()
    with pytest.raises(ActionError, match="cannot be opened"):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    offer.refresh_from_db()
    assert offer.state == "offered"


def test_the_partner_endpoints_refuse_strangers(linked: Peer, movable: Case, counsellor: Persona) -> None:
    from django.test import Client

    offer = _offer(counsellor, movable)
    assert Client().get("/api/federation/v1/transfers").status_code == 401
    assert Client().post(f"/api/federation/v1/transfers/{offer.offer_id}", {}).status_code == 401
    assert (
        Client().put("/api/federation/v1/identity", b"{}", content_type="application/json").status_code == 401
    )


@pytest.mark.parametrize("how", ["withdraw", "delete my data"])
def test_withdrawing_transfer_consent_revokes_the_open_offer(
    how: str, linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    from haven.web.portal.actions import delete_my_data

    offer = _offer(counsellor, movable, parts=["hashes", "contact"])
    actions.fetch_peer(linked.pk)
    if how == "withdraw":
        cases.record_consent(
            actor=counsellor.user, case=movable, scope="transfer", granted=False, method="phone"
        )
    else:
        delete_my_data(case=movable)
    offer.refresh_from_db()
    assert offer.state == "revoked"
    assert bytes(offer.envelope) == b""
    incoming = IncomingTransfer.objects.get()
    with pytest.raises(ActionError, match="no longer offers"):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    incoming.refresh_from_db()
    assert incoming.state == "revoked"
    assert bytes(incoming.envelope) == b""
    assert Case.objects.filter(organisation_id=b_counsellor.user.organisation_id).count() == 0


def test_an_offer_being_answered_cannot_be_answered_the_other_way(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona
) -> None:
    offer = _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    incoming = IncomingTransfer.objects.get()
    IncomingTransfer.objects.filter(pk=incoming.pk).update(state="deciding", decided_at=timezone.now())
    with pytest.raises(ActionError, match="being answered"):
        transfers.reject_transfer(actor=b_counsellor.user, transfer=incoming)
    offer.refresh_from_db()
    assert offer.state == "offered"
    # A claim left by an answer that died long ago may be taken over.
    IncomingTransfer.objects.filter(pk=incoming.pk).update(decided_at=timezone.now() - dt.timedelta(hours=1))
    transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    offer.refresh_from_db()
    assert offer.state == "accepted"


def test_an_acceptance_that_failed_after_telling_the_centre_is_finished_by_accepting_again(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    incoming = IncomingTransfer.objects.get()
    real = transfers._make_case
    calls = {"n": 0}

    def fails_the_second_time(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the dry run passes, the real one breaks after A was told
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(transfers, "_make_case", fails_the_second_time)
    with pytest.raises(RuntimeError):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    incoming.refresh_from_db()
    assert incoming.state == "offered"  # released for another try
    assert OutgoingTransfer.objects.get().state == "accepted"
    with pytest.raises(ActionError, match="recorded an acceptance"):
        transfers.reject_transfer(actor=b_counsellor.user, transfer=incoming)
    made = transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)
    assert made.organisation_id == b_counsellor.user.organisation_id


def test_removing_the_peer_closes_its_open_offers(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona, b_admin: Persona
) -> None:
    _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    actions.remove_peer(actor=b_admin.user, peer=linked)
    incoming = IncomingTransfer.objects.get()
    assert incoming.state == "revoked"
    with pytest.raises(ActionError):
        transfers.accept_transfer(actor=b_counsellor.user, transfer=incoming)


def test_a_receipt_needs_the_transfer_permission(
    linked: Peer, movable: Case, counsellor: Persona, b_counsellor: Persona, b_officer: Persona
) -> None:
    _offer(counsellor, movable)
    actions.fetch_peer(linked.pk)
    incoming = IncomingTransfer.objects.get()
    transfers.reject_transfer(actor=b_counsellor.user, transfer=incoming)
    incoming.refresh_from_db()
    with pytest.raises(PermissionDenied):
        transfers.receipt(actor=b_officer.user, transfer=incoming)
    assert transfers.receipt(actor=b_counsellor.user, transfer=incoming)
