"""Finds reported back: B finds a copy of A's item (a lookup with the address, a monitoring scan),
A receives it on the case as a suggested sighting, and A's officer accepts it into the takedown desk."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.core.errors import ActionError
from haven.web.federation import actions
from haven.web.federation.models import ImportedItem, OutgoingFind, Peer, ReceivedFind
from haven.web.monitoring import actions as monitoring
from haven.web.monitoring.models import Candidate, ScanRun
from haven.web.sharing.actions import approve_case
from haven.web.takedown.models import Sighting
from tests.scan.content import cropped
from tests.scan.site import TestSite
from tests.web.conftest import Persona
from tests.web.sharing.conftest import PartnerClient
from tests.web.takedown.conftest import add_robust_photo

pytestmark = pytest.mark.django_db(transaction=True)

SEEN = "https://forum.example/thread/7/photo.jpg"


def _pdq(case: Case) -> str:
    return str(ContentItem.objects.filter(case=case).values_list("pdq", flat=True)[0])


def _report_by_lookup(b_officer: Persona, case: Case, url: str = SEEN) -> list[dict[str, Any]]:
    response = b_officer.api().post(
        "/api/v1/lookup", {"pdq": [_pdq(case)], "url": url}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    hits: list[dict[str, Any]] = response.json()
    return hits


@pytest.fixture
def imported(a_peer: Peer) -> Peer:
    assert actions.fetch_peer(a_peer.pk).items == 2
    return a_peer


def test_a_lookup_with_an_address_reports_the_find_to_the_owning_centre(
    imported: Peer, shared_case: Case, b_officer: Persona, officer: Persona
) -> None:
    (hit,) = _report_by_lookup(b_officer, shared_case)
    assert hit["imported"]["reported"] is True
    queued = OutgoingFind.objects.get()
    assert (queued.state, queued.how, queued.url) == ("queued", "lookup", SEEN)
    assert AuditEvent.objects.filter(event_type=EventType.FINDS_QUEUED).count() == 1
    # The same address again is not a second find.
    _report_by_lookup(b_officer, shared_case)
    assert OutgoingFind.objects.count() == 1

    delivered = actions.deliver_finds()
    assert (delivered.sent, delivered.failed) == (1, 0)
    queued.refresh_from_db()
    assert queued.state == "sent"
    find = ReceivedFind.objects.get()
    assert find.case_id == shared_case.pk
    assert find.organisation_id == shared_case.organisation_id
    assert (find.url, find.how, find.distance, find.state) == (SEEN, "lookup", 0, "suggested")
    assert find.partner.name == "Centre B"
    assert AuditEvent.objects.filter(
        event_type=EventType.FIND_RECEIVED, object_id=str(shared_case.pk)
    ).exists()
    # Nothing more to send.
    assert actions.deliver_finds().sent == 0

    sighting = actions.accept_find(actor=officer.user, find=find)
    assert sighting.case_id == shared_case.pk
    assert sighting.source == "centre"
    assert Sighting.objects.get(pk=sighting.pk).url == SEEN
    find.refresh_from_db()
    assert (find.state, find.sighting_id) == ("accepted", sighting.pk)
    with pytest.raises(ActionError, match="already been decided"):
        actions.accept_find(actor=officer.user, find=find)


def test_a_lookup_without_an_address_reports_nothing(
    imported: Peer, shared_case: Case, b_officer: Persona
) -> None:
    response = b_officer.api().post(
        "/api/v1/lookup", {"pdq": [_pdq(shared_case)]}, content_type="application/json"
    )
    (hit,) = response.json()
    assert hit["imported"]["reported"] is False
    assert OutgoingFind.objects.count() == 0


def test_a_find_on_an_item_withdrawn_meanwhile_is_refused_by_its_centre(
    imported: Peer, shared_case: Case, b_officer: Persona, counsellor: Persona
) -> None:
    _report_by_lookup(b_officer, shared_case)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    delivered = actions.deliver_finds()
    assert (delivered.sent, delivered.refused) == (0, 1)
    find = OutgoingFind.objects.get()
    assert find.state == "refused"
    assert "no longer shared" in find.last_error
    assert ReceivedFind.objects.count() == 0


def test_the_tombstone_drops_finds_not_yet_sent(
    imported: Peer, shared_case: Case, b_officer: Persona, counsellor: Persona
) -> None:
    _report_by_lookup(b_officer, shared_case)
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    actions.fetch_peer(imported.pk)
    assert OutgoingFind.objects.get().state == "dropped"
    assert actions.deliver_finds().sent == 0


def test_a_centre_that_is_down_gets_the_find_later(
    imported: Peer, shared_case: Case, b_officer: Persona
) -> None:
    _report_by_lookup(b_officer, shared_case)
    Peer.objects.filter(pk=imported.pk).update(url="http://127.0.0.1:9")
    delivered = actions.deliver_finds()
    assert delivered.failed == 1
    assert "cannot reach the peer" in delivered.errors[0]
    find = OutgoingFind.objects.get()
    assert (find.state, find.attempts) == ("queued", 1)
    assert find.next_attempt_at is not None
    assert find.next_attempt_at > find.created_at
    assert actions.deliver_finds().failed == 0  # not due yet


def test_a_monitoring_scan_reports_an_edited_copy_of_an_imported_photo(
    site: TestSite,
    loopback: None,
    b_officer: Persona,
    counsellor: Persona,
    case: Case,
    photo: Image.Image,
    live_server: Any,
    peer_of: Any,
) -> None:
    add_robust_photo(counsellor, case, photo, "share")
    assert approve_case(actor=counsellor.user, case=case) == 1
    peer = peer_of(live_server.url)
    assert actions.fetch_peer(peer.pk).items == 1
    site.put("/federated/crop.jpg", cropped(photo), "image/jpeg")
    start = site.put("/federated/", '<html><body><img src="crop.jpg"></body></html>')
    source = monitoring.save_source(
        actor=b_officer.user, data=monitoring.SourceInput(name="Forum", kind="crawl", target=start, depth=0)
    )
    queued = monitoring.queue_run(actor=b_officer.user, source=source)
    run = monitoring.execute_run(ScanRun.objects.get(pk=queued.pk))
    assert run.status == "done", run.failure
    # Not B's case: nothing in B's review queue, a find for A instead.
    assert run.candidates == 0
    assert Candidate.objects.count() == 0
    assert run.stats["reported_to_centres"] == 1
    find = OutgoingFind.objects.get()
    assert find.how == "monitoring"
    assert find.url.endswith("/federated/crop.jpg")
    assert len(find.evidence_sha256) == 64
    assert actions.deliver_finds().sent == 1
    received = ReceivedFind.objects.get()
    assert received.case_id == case.pk
    assert received.page_url == start
    assert received.evidence_sha256 == find.evidence_sha256


# --- the partner endpoint ----------------------------------------------------------------------


def _find(item: str, signal: str, **changes: Any) -> dict[str, Any]:
    return {
        "item": item,
        "signal": signal,
        "url": SEEN,
        "found_at": 1764871234,
        "how": "monitoring",
        "match_kind": "pdq",
        "distance": 4,
        **changes,
    }


@pytest.fixture
def sent(make_partner: Any, shared_case: Case) -> tuple[PartnerClient, list[dict[str, Any]]]:
    """A centre partner and the records it fetched."""
    centre = make_partner("Centre C", kind="centre")
    records, _ = centre.native_all()
    return centre, records


def _post(partner: PartnerClient, body: Any) -> Any:
    return partner.post("/api/federation/v1/finds", body, "feedback")


def test_the_endpoint_files_each_find_and_answers_for_each(sent: Any) -> None:
    centre, records = sent
    first, second = records
    body = {
        "finds": [
            _find(first["id"], first["signals"][0]["value"]),
            _find(first["id"], first["signals"][0]["value"]),
            _find(second["id"], first["signals"][0]["value"]),
            _find("hvi-aaaaaaaaaaaaaaaaaaaaaaaa", second["signals"][0]["value"]),
        ]
    }
    response = _post(centre, body)
    assert response.status_code == 200, response.content
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "duplicate", "refused", "refused"]
    assert ReceivedFind.objects.count() == 1


def test_an_item_sent_to_another_partner_takes_no_find(sent: Any, make_partner: Any) -> None:
    _centre, records = sent
    other = make_partner("Centre D", kind="centre")  # fetched nothing
    response = _post(other, {"finds": [_find(records[0]["id"], records[0]["signals"][0]["value"])]})
    assert response.json()["results"][0]["status"] == "refused"
    assert ReceivedFind.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"url": "javascript:alert(1)"},
        {"url": "file:///etc/passwd"},
        {"url": "https://x.test/\r\nSet-Cookie: a"},
        {"signal": "zz" * 32},
        {"item": "../../etc"},
        {"how": "telepathy"},
        {"distance": -1},
        {"distance": 999},
        {"found_at": 10**15},
        {"evidence_sha256": "abc"},
        {"match_kind": "x" * 100},
    ],
)
def test_a_malformed_find_refuses_the_whole_request(sent: Any, change: dict[str, Any]) -> None:
    centre, records = sent
    good = _find(records[0]["id"], records[0]["signals"][0]["value"])
    response = _post(centre, {"finds": [good, {**good, **change}]})
    assert response.status_code == 422, response.content
    assert ReceivedFind.objects.count() == 0


def test_wrong_keys_and_bad_bodies_change_nothing(sent: Any) -> None:
    centre, records = sent
    body = {"finds": [_find(records[0]["id"], records[0]["signals"][0]["value"])]}
    assert centre.post("/api/federation/v1/finds", body, "fetch").status_code == 401
    assert Client().post("/api/federation/v1/finds", body, content_type="application/json").status_code == 401
    raw = Client().post(
        "/api/federation/v1/finds",
        b"{not json",
        content_type="application/json",
        headers=centre.headers("feedback"),
    )
    assert raw.status_code in (400, 422)
    assert _post(centre, {"finds": []}).status_code == 422
    assert _post(centre, {"finds": [body["finds"][0]] * 501}).status_code == 422
    assert ReceivedFind.objects.count() == 0


def test_an_outsider_cannot_see_or_decide_a_find(
    imported: Peer,
    shared_case: Case,
    b_officer: Persona,
    outsider: Persona,
    officer: Persona,
    reviewer: Persona,
) -> None:
    _report_by_lookup(b_officer, shared_case)
    actions.deliver_finds()
    find = ReceivedFind.objects.get()
    assert outsider.api().get(f"/api/v1/cases/{shared_case.number}/finds").status_code == 404
    response = outsider.api().post(
        f"/api/v1/finds/{find.pk}", {"accept": True}, content_type="application/json"
    )
    assert response.status_code == 404
    response = reviewer.api().post(
        f"/api/v1/finds/{find.pk}", {"accept": True}, content_type="application/json"
    )
    assert response.status_code == 403
    listed = officer.api().get(f"/api/v1/cases/{shared_case.number}/finds").json()
    assert [f["id"] for f in listed] == [find.pk]
    response = officer.api().post(
        f"/api/v1/finds/{find.pk}", {"accept": False}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "dismissed"
    assert AuditEvent.objects.filter(event_type=EventType.FIND_DISMISSED).count() == 1


def test_evidence_capture_reports_a_copy_of_an_imported_photo(
    site: TestSite,
    loopback: None,
    b_counsellor: Persona,
    b_officer: Persona,
    counsellor: Persona,
    case: Case,
    photo: Image.Image,
    live_server: Any,
    peer_of: Any,
) -> None:
    import hashlib

    from haven.web.takedown import actions as takedown
    from tests.web.takedown.conftest import jpeg

    add_robust_photo(counsellor, case, photo, "share")
    approve_case(actor=counsellor.user, case=case)
    assert actions.fetch_peer(peer_of(live_server.url).pk).items == 1
    # B's officer captures evidence for one of B's own cases; the page carries A's photo.
    b_case = cases.create_case(actor=b_counsellor.user)
    body = jpeg(photo)
    media = site.put("/evidence-b/p.jpg", body, "image/jpeg")
    page = site.put("/evidence-b/page.html", '<html><body><img src="p.jpg"></body></html>')
    added = takedown.add_sightings(
        actor=b_officer.user, case=b_case, urls=[page], source="counsellor", media_url=media
    )
    takedown.capture_evidence(actor=b_officer.user, sighting=added.created[0])
    find = OutgoingFind.objects.get()
    assert (find.how, find.url, find.page_url) == ("evidence", media, page)
    assert find.evidence_sha256 == hashlib.sha256(body).hexdigest()
    assert actions.deliver_finds().sent == 1
    assert ReceivedFind.objects.get().case_id == case.pk


def test_a_find_that_is_not_a_web_address_is_never_queued(imported: Peer, shared_case: Case) -> None:
    item = ImportedItem.objects.first()
    assert item is not None
    now = timezone.now()
    finds = [
        actions.Find(
            item_id=item.pk,
            url="file:///srv/evidence/p.jpg",
            page_url="",
            found_at=now,
            match_kind="pdq",
            distance=0,
        ),
        actions.Find(
            item_id=item.pk,
            url="https://x.test/a\tb.jpg",
            page_url="",
            found_at=now,
            match_kind="pdq",
            distance=0,
        ),
        actions.Find(
            item_id=item.pk,
            url="https://x.test/ok.jpg",
            page_url="",
            found_at=now,
            match_kind="pdq",
            distance=0,
        ),
    ]
    assert (
        actions.record_finds(
            actor="worker", organisation_id=imported.organisation_id, how="lookup", finds=finds
        )
        == 1
    )
    assert [f.url for f in OutgoingFind.objects.all()] == ["https://x.test/ok.jpg"]


def test_a_platform_cannot_report_finds(make_partner: Any, shared_case: Case) -> None:
    platform = make_partner("Example Platform", kind="platform")
    records, _ = platform.native_all()
    response = _post(platform, {"finds": [_find(records[0]["id"], records[0]["signals"][0]["value"])]})
    assert response.status_code == 403
    assert ReceivedFind.objects.count() == 0


def test_a_withdrawn_item_leaves_no_hash_in_the_finds_about_it(
    imported: Peer, shared_case: Case, b_officer: Persona, counsellor: Persona
) -> None:
    _report_by_lookup(b_officer, shared_case)
    assert actions.deliver_finds().sent == 1
    assert OutgoingFind.objects.get().signal
    cases.record_consent(
        actor=counsellor.user, case=shared_case, scope="share", granted=False, method="phone"
    )
    actions.fetch_peer(imported.pk)
    find = OutgoingFind.objects.get()
    assert (find.state, find.signal) == ("sent", "")
