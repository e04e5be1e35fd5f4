"""The federation pages: the network view, the finds and transfer panels on the case page, the
transfers page; who may see and do what, and that another centre's rows stay out of reach."""

from __future__ import annotations

from typing import Any

import pytest

from haven.web.cases import actions as cases
from haven.web.cases.models import Case, CaseStatus
from haven.web.federation import actions
from haven.web.federation.actions import transfers
from haven.web.federation.models import IncomingTransfer, OutgoingTransfer, Peer, ReceivedFind
from haven.web.sharing.models import Partner
from haven.web.takedown.models import Sighting
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_network_view_shows_peers_centres_and_no_survivor_data(
    a_peer: Peer, shared_case: Case, b_admin: Persona, admin: Persona, client_of: Any
) -> None:
    actions.fetch_peer(a_peer.pk)
    page = client_of(b_admin).get("/federation/").content.decode()
    assert "Centre A" in page
    assert a_peer.url in page
    assert shared_case.number not in page
    theirs = client_of(admin).get("/federation/").content.decode()
    assert "Centre B" in theirs  # the centre that imports from A
    assert shared_case.number not in theirs


@pytest.mark.parametrize("who", ["counsellor", "officer", "reviewer", "analyst"])
def test_only_administrators_see_the_network_view(
    who: str, request: pytest.FixtureRequest, client_of: Any
) -> None:
    persona = request.getfixturevalue(who)
    assert client_of(persona).get("/federation/").status_code == 403


def test_an_administrator_adds_a_peer_on_the_page_and_a_bad_one_is_refused(
    b_admin: Persona, centre_keys: dict[str, str], client_of: Any, private_peers: None
) -> None:
    import json

    client = client_of(b_admin)
    bad = client.post(
        "/federation/", {"name": "A", "url": "ftp://x", "keys": json.dumps(centre_keys), "every_minutes": 5}
    )
    assert bad.status_code == 200
    assert Peer.objects.count() == 0
    assert "https://" in bad.content.decode()
    garbage = client.post(
        "/federation/", {"name": "A", "url": "http://x.test", "keys": "{{", "every_minutes": 5}
    )
    assert "not valid JSON" in garbage.content.decode()
    assert Peer.objects.count() == 0
    good = client.post(
        "/federation/",
        {"name": "A", "url": "http://x.test", "keys": json.dumps(centre_keys), "every_minutes": 5},
    )
    assert good.status_code == 302
    assert Peer.objects.get().name == "A"


def test_another_centres_peer_cannot_be_fetched_or_removed(
    a_peer: Peer, admin: Persona, client_of: Any
) -> None:
    client = client_of(admin)  # an administrator of A, not of B who owns the peer
    assert client.post(f"/federation/peers/{a_peer.pk}/", {"action": "remove"}).status_code == 404
    assert Peer.objects.filter(pk=a_peer.pk).exists()


def test_a_find_is_accepted_from_the_case_page(
    a_peer: Peer, shared_case: Case, b_officer: Persona, officer: Persona, outsider: Persona, client_of: Any
) -> None:
    actions.fetch_peer(a_peer.pk)
    pdq = shared_case.content.first().pdq  # type: ignore[union-attr]
    b_officer.api().post(
        "/api/v1/lookup", {"pdq": [pdq], "url": "https://x.test/p.jpg"}, content_type="application/json"
    )
    actions.deliver_finds()
    find = ReceivedFind.objects.get()
    page = client_of(officer).get(f"/cases/{shared_case.number}/").content.decode()
    assert "Found by other centres" in page
    assert "https://x.test/p.jpg" in page
    assert (
        client_of(outsider).post(f"/federation/finds/{find.pk}/", {"decision": "accept"}).status_code == 404
    )
    response = client_of(officer).post(f"/federation/finds/{find.pk}/", {"decision": "accept"})
    assert response.status_code == 302
    assert Sighting.objects.get(case=shared_case).source == "centre"


def test_a_case_is_offered_revoked_and_accepted_through_the_pages(
    a_peer: Peer,
    case: Case,
    counsellor: Persona,
    b_counsellor: Persona,
    officer: Persona,
    outsider: Persona,
    client_of: Any,
) -> None:
    actions.fetch_peer(a_peer.pk)  # the centres exchange keys
    client = client_of(counsellor)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "has not agreed to pass her case" in page
    cases.record_consent(actor=counsellor.user, case=case, scope="transfer", granted=True, method="phone")
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "Offer the case" in page
    partner = Partner.objects.get(name="Centre B")
    form = {"partner": partner.pk, "parts": ["hashes", "classification"], "note": ""}
    assert client_of(officer).post(f"/cases/{case.number}/transfer/", form).status_code == 403
    assert client_of(outsider).post(f"/cases/{case.number}/transfer/", form).status_code == 404
    assert client.post(f"/cases/{case.number}/transfer/", form).status_code == 302
    offer = OutgoingTransfer.objects.get()
    assert client_of(outsider).post(f"/federation/transfers/out/{offer.pk}/revoke/").status_code == 404
    client.post(f"/federation/transfers/out/{offer.pk}/revoke/")
    offer.refresh_from_db()
    assert offer.state == "revoked"

    client.post(f"/cases/{case.number}/transfer/", form)
    actions.fetch_peer(a_peer.pk)
    incoming = IncomingTransfer.objects.get(state="offered")
    b_client = client_of(b_counsellor)
    listing = b_client.get("/federation/transfers/").content.decode()
    assert "Centre A" in listing
    assert "Accept" in listing
    assert (
        client_of(counsellor)
        .post(f"/federation/transfers/in/{incoming.pk}/", {"decision": "accept"})
        .status_code
        == 404
    )
    response = b_client.post(f"/federation/transfers/in/{incoming.pk}/", {"decision": "accept"})
    incoming.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/cases/{incoming.case.number}/")
    case.refresh_from_db()
    assert case.status == CaseStatus.TRANSFERRED
    page = b_client.get(f"/cases/{incoming.case.number}/").content.decode()
    assert "This case came from Centre A" in page


def test_the_staff_api_offers_lists_and_answers(
    a_peer: Peer, case: Case, counsellor: Persona, b_counsellor: Persona, outsider: Persona
) -> None:
    actions.fetch_peer(a_peer.pk)
    cases.record_consent(actor=counsellor.user, case=case, scope="transfer", granted=True, method="phone")
    api = counsellor.api()
    assert (
        api.post(
            f"/api/v1/cases/{case.number}/transfers", {"to": "Nobody"}, content_type="application/json"
        ).status_code
        == 422
    )
    assert (
        outsider.api()
        .post(f"/api/v1/cases/{case.number}/transfers", {"to": "Centre B"}, content_type="application/json")
        .status_code
        == 404
    )
    made = api.post(
        f"/api/v1/cases/{case.number}/transfers", {"to": "Centre B"}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    offer_id = made.json()["offer_id"]
    actions.fetch_peer(a_peer.pk)
    listed = b_counsellor.api().get("/api/v1/federation/transfers").json()
    assert [(t["direction"], t["offer_id"], t["state"]) for t in listed] == [("in", offer_id, "offered")]
    # A's counsellor is outside B: B's offer is not hers to answer.
    response = api.post(
        f"/api/v1/federation/transfers/{offer_id}", {"action": "accept"}, content_type="application/json"
    )
    assert response.status_code == 404
    answered = b_counsellor.api().post(
        f"/api/v1/federation/transfers/{offer_id}", {"action": "reject"}, content_type="application/json"
    )
    assert answered.status_code == 200
    assert answered.json()["state"] == "rejected"
    assert transfers.OutgoingTransfer.objects.get().state == "rejected"
