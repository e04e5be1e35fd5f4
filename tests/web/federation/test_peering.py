"""Peering: centre B imports centre A's native feed over HTTP into an imported bank that B's
lookups match, that follows A's tombstones, and that resumes from its checkpoint after a cut."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.core.exceptions import PermissionDenied

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.core.errors import ActionError
from haven.web.federation import actions, client
from haven.web.federation.matching import ImportedBank
from haven.web.federation.models import ImportedItem, Peer
from haven.web.sharing.actions import approve_case
from tests.web.conftest import Persona
from tests.web.sharing.conftest import add_photos

pytestmark = pytest.mark.django_db(transaction=True)


def _lookup(persona: Persona, pdq: str, **extra: object) -> list[dict[str, object]]:
    response = persona.api().post("/api/v1/lookup", {"pdq": [pdq], **extra}, content_type="application/json")
    assert response.status_code == 200, response.content
    hits: list[dict[str, object]] = response.json()
    return hits


def test_a_fetch_imports_the_shared_photos_attributed_to_the_centre(
    a_peer: Peer, shared_case: Case, b_officer: Persona, counsellor: Persona
) -> None:
    outcome = actions.fetch_peer(a_peer.pk)
    assert outcome.error == ""
    assert (outcome.added, outcome.items) == (2, 2)
    pdqs = set(ContentItem.objects.filter(case=shared_case).values_list("pdq", flat=True))
    assert set(ImportedItem.objects.filter(peer=a_peer).values_list("pdq", flat=True)) == pdqs
    # B's lookup finds A's photo, attributed to A and without A's case.
    (hit,) = _lookup(b_officer, next(iter(pdqs)))
    assert hit["content"] is None
    assert hit["imported"]["centre"] == "Centre A"
    assert hit["imported"]["item"].startswith("hvi-")
    assert "case_number" not in json.dumps(hit)
    assert shared_case.number not in json.dumps(hit)
    # A's own lookup is unchanged: its case content, nothing imported.
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="monitor", granted=True, method="phone"
    )
    (own,) = _lookup(counsellor, next(iter(pdqs)))
    assert own["content"] is not None
    assert own["imported"] is None
    events = AuditEvent.objects.filter(event_type=EventType.PEER_FETCHED, organisation=a_peer.organisation)
    assert events.count() == 1


def test_the_scan_bank_carries_the_imported_items(a_peer: Peer) -> None:
    actions.fetch_peer(a_peer.pk)
    entries = list(ImportedBank(a_peer.organisation_id).read_bank())
    assert len(entries) == 2
    assert all(e.content_id.startswith("imported:") and e.case_id == f"peer:{a_peer.pk}" for e in entries)
    assert list(ImportedBank(a_peer.organisation_id + 999).read_bank()) == []


def test_a_withdrawal_leaves_the_imported_bank_with_the_next_fetch(
    a_peer: Peer, shared_case: Case, counsellor: Persona, b_officer: Persona
) -> None:
    actions.fetch_peer(a_peer.pk)
    pdq = ContentItem.objects.filter(case=shared_case).values_list("pdq", flat=True)[0]
    assert _lookup(b_officer, pdq)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    outcome = actions.fetch_peer(a_peer.pk)
    assert (outcome.removed, outcome.items) == (2, 0)
    assert _lookup(b_officer, pdq) == []
    # Consent again: the items come back with the next fetch.
    cases.record_consent(actor=counsellor.user, case=shared_case, scope="share", granted=True, method="phone")
    assert actions.fetch_peer(a_peer.pk).items == 2
    assert len(_lookup(b_officer, pdq)) == 1


def test_an_idle_fetch_changes_nothing_and_audits_nothing(a_peer: Peer) -> None:
    actions.fetch_peer(a_peer.pk)
    before = AuditEvent.objects.count()
    outcome = actions.fetch_peer(a_peer.pk)
    assert (outcome.added, outcome.updated, outcome.removed, outcome.items) == (0, 0, 0, 2)
    assert AuditEvent.objects.count() == before


def test_a_fetch_cut_off_mid_way_resumes_from_its_checkpoint_without_loss_or_repeat(
    a_peer: Peer, shared_case: Case, counsellor: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_photos(counsellor, shared_case, 5)
    approve_case(actor=counsellor.user, case=shared_case)  # 7 shared photos
    real = client.fetch_page
    calls = {"n": 0}

    def dies_after_two_pages(*args: object, **kwargs: object) -> client.Page:
        calls["n"] += 1
        if calls["n"] > 2:
            raise client.PeerError("cannot reach the peer: connection reset")
        return real(*args, **kwargs, page_size=2)  # type: ignore[arg-type]

    monkeypatch.setattr(client, "fetch_page", dies_after_two_pages)
    cut = actions.fetch_peer(a_peer.pk)
    assert cut.error == "cannot reach the peer: connection reset"
    assert cut.pages == 2
    assert cut.items == 4
    a_peer.refresh_from_db()
    assert a_peer.last_error == cut.error
    assert a_peer.checkpoint > 0
    monkeypatch.setattr(client, "fetch_page", lambda *a, **k: real(*a, **k, page_size=2))  # type: ignore[arg-type]
    resumed = actions.fetch_peer(a_peer.pk)
    assert resumed.error == ""
    assert (resumed.added, resumed.updated, resumed.items) == (3, 0, 7)
    a_peer.refresh_from_db()
    assert a_peer.last_error == ""
    assert a_peer.records_applied == 7


def test_two_fetches_at_once_are_one(a_peer: Peer) -> None:
    assert actions.peers._claim(a_peer.pk, a_peer.created_at)
    outcome = actions.fetch_peer(a_peer.pk)
    assert outcome.busy
    assert outcome.items == 0
    assert ImportedItem.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "https://"),
        ("ftp://centre.example", "https://"),
        ("https://user:secret@centre.example", "user name or password"),
        ("https://centre.example/?x=1", "without ? or #"),
        ("https://", "no host name"),
        ("https://centre.example:99999", "invalid port"),
        ("", "give the peer's address"),
        ("https://centre.example/\x00", "give the peer's address"),
    ],
)
def test_a_peer_with_a_hostile_address_is_refused(
    url: str, message: str, peer_of: Callable[[str], Peer]
) -> None:
    with pytest.raises(ActionError, match=message.replace("?", r"\?")):
        peer_of(url)
    assert Peer.objects.count() == 0


def test_a_public_peer_needs_https_and_a_public_address(
    b_admin: Persona, centre_keys: dict[str, str]
) -> None:
    org = b_admin.user.organisation
    with pytest.raises(ActionError, match="over https://"):
        actions.add_peer(
            actor=b_admin.user, organisation=org, name="A", url="http://1.2.3.4", keys=centre_keys
        )
    peer = actions.add_peer(
        actor=b_admin.user, organisation=org, name="A", url="https://127.0.0.1:9", keys=centre_keys
    )
    outcome = actions.fetch_peer(peer.pk)
    assert "127.0.0.1, not a public address" in outcome.error
    assert ImportedItem.objects.count() == 0


@pytest.mark.parametrize(
    "keys",
    [{}, {"fetch_key": "x"}, [], {"fetch_key": "a" * 20, "feedback_key": "b" * 20, "submit_key": "c" * 20}],
)
def test_keys_that_are_not_a_partners_keys_are_refused(
    keys: object, b_admin: Persona, private_peers: None
) -> None:
    with pytest.raises(ActionError, match="keys"):
        actions.add_peer(
            actor=b_admin.user,
            organisation=b_admin.user.organisation,
            name="A",
            url="http://x.test",
            keys=keys,
        )


def test_only_an_administrator_adds_a_peer_and_only_for_their_own_centre(
    b_officer: Persona, b_admin: Persona, admin: Persona, centre_keys: dict[str, str], private_peers: None
) -> None:
    with pytest.raises(PermissionDenied):
        actions.add_peer(
            actor=b_officer.user,
            organisation=b_officer.user.organisation,
            name="A",
            url="http://x.test",
            keys=centre_keys,
        )
    with pytest.raises(ActionError, match="own organisation"):
        actions.add_peer(
            actor=admin.user,
            organisation=b_admin.user.organisation,
            name="A",
            url="http://x.test",
            keys=centre_keys,
        )
    assert Peer.objects.count() == 0


def test_the_keys_are_stored_encrypted(a_peer: Peer, centre_keys: dict[str, str]) -> None:
    raw = bytes(Peer.objects.get(pk=a_peer.pk).keys_encrypted)
    assert centre_keys["fetch_key"].encode() not in raw
    assert actions.peer_keys(a_peer) == centre_keys


def test_removing_a_peer_empties_its_bank(
    a_peer: Peer, b_admin: Persona, b_officer: Persona, shared_case: Case
) -> None:
    actions.fetch_peer(a_peer.pk)
    pdq = ContentItem.objects.filter(case=shared_case).values_list("pdq", flat=True)[0]
    assert _lookup(b_officer, pdq)
    assert actions.remove_peer(actor=b_admin.user, peer=a_peer) == 2
    assert ImportedItem.objects.count() == 0
    assert _lookup(b_officer, pdq) == []
