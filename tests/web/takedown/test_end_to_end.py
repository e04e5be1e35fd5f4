"""Sighting -> evidence -> DSA notice -> sent over real SMTP -> recheck -> removed, over the API.

The "platform" is a real web server on 127.0.0.1 serving a page and the picture; its abuse
mailbox is a real SMTP server (aiosmtpd) whose handler takes the content down when a notice
arrives, as a compliant platform would.
"""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image
from pypdf import PdfReader

from haven.web.audit.chain import verify
from haven.web.audit.models import AuditEvent
from haven.web.cases.models import Case
from haven.web.takedown.models import Evidence, Notice, Platform, Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Mailbox, Persona

from .conftest import jpeg

pytestmark = pytest.mark.usefixtures("loopback")

EXPLANATION = "The survivor reported the post to us on 3 November; they never agreed to its publication."


def _events(since: int) -> list[str]:
    return list(AuditEvent.objects.filter(sequence__gt=since).values_list("event_type", flat=True))


def test_a_url_goes_from_sighting_to_removed(
    site: TestSite,
    mailbox: Mailbox,
    consenting_case: Case,
    platform: Platform,
    officer: Persona,
    photo: Image.Image,
    django_capture_on_commit_callbacks: object,
) -> None:
    # The platform serves a page and, at another address, a re-encoded, resized copy of the photo.
    page = site.put("/e2e/post/17", '<html><body><img src="/e2e/media/17.jpg"></body></html>')
    media = site.put(
        "/e2e/media/17.jpg",
        jpeg(photo.resize((photo.width // 2, photo.height // 2)), quality=70),
        "image/jpeg",
    )

    def take_down(message: EmailMessage) -> None:
        site.put("/e2e/post/17", "This content was removed.", status=410)
        site.put("/e2e/media/17.jpg", b"", status=404)

    mailbox.on_message = take_down
    api = officer.api()
    start = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0

    # 1. The sighting.
    r = api.post(
        f"/api/v1/cases/{consenting_case.number}/sightings",
        {"urls": [page + "?utm_source=share"], "media_url": media, "source": "survivor"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    created = r.json()["created"]
    assert len(created) == 1
    assert created[0]["platform"] == "Local Test Platform"
    assert created[0]["url"] == page  # tracking parameter dropped
    sid = created[0]["id"]
    assert _events(start) == ["sighting.added"]

    # 2. Evidence: the page and the media, hashed in memory; the hash confirms the match.
    mark = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    r = api.post(f"/api/v1/sightings/{sid}/capture")
    assert r.status_code == 201, r.content
    page_ev, media_ev = r.json()
    assert page_ev["status"] == 200
    assert page_ev["sniffed_type"] == "text/html"
    assert len(page_ev["sha256"]) == 64
    assert media_ev["sniffed_type"] == "image/jpeg"
    assert media_ev["matches"]
    assert media_ev["distance"] <= 31
    assert _events(mark) == ["evidence.captured", "sighting.state_changed"]

    # 3. A DSA notice: refused without the substantiated explanation, then drafted.
    mark = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    body = {"sightings": [sid], "regime": "dsa", "good_faith": True, "signer": "Kim Officer"}
    r = api.post("/api/v1/notices", body, content_type="application/json")
    assert r.status_code == 422
    assert "explanation" in r.json()["detail"]
    assert Notice.objects.count() == 0
    r = api.post("/api/v1/notices", {**body, "explanation": EXPLANATION}, content_type="application/json")
    assert r.status_code == 201, r.content
    notice = r.json()
    assert notice["state"] == "ready"
    assert notice["recipient"] == "abuse@platform.test"

    # 4. Sent over SMTP; the received e-mail holds every element Art. 16(2) requires.
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        r = api.post(f"/api/v1/notices/{notice['id']}/send")
    assert r.status_code == 200, r.content
    sent = r.json()
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["To"] == "abuse@platform.test"
    assert message["Message-ID"] == sent["message_id"]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert page in text
    assert media in text
    assert EXPLANATION in text  # (a) substantiated explanation
    assert "Centre A" in text
    assert "takedown@centre-a.example" in text
    assert "bona fide belief" in text
    assert "accurate and complete" in text
    assert consenting_case.contact_encrypted is not None
    assert "010-1234" not in text  # the survivor's contact details never leave
    pdf = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert "Article 16" in pdf_text
    assert "bona fide" in pdf_text
    sighting = Sighting.objects.get(pk=sid)
    assert sighting.state == "sent"
    assert sighting.next_check_at is not None
    # The first automatic recheck is queued for an hour after sending.
    job = DBTaskResult.objects.get(task_path="haven.web.takedown.tasks.recheck_sighting")
    assert abs(job.run_after - (sighting.state_changed_at + dt.timedelta(hours=1))) < dt.timedelta(seconds=5)

    # 5. The recheck (what the queued job runs) sees 410: removed, with the time observed.
    r = api.post(f"/api/v1/sightings/{sid}/recheck")
    assert r.status_code == 200, r.content
    assert r.json()["gone"] is True
    sighting.refresh_from_db()
    assert sighting.state == "removed"
    assert sighting.removed_at is not None
    assert timezone.now() - sighting.removed_at < dt.timedelta(minutes=1)
    n = Notice.objects.get(pk=notice["id"])
    assert n.state == "closed"
    assert n.action_taken == "yes"

    # Each step is an audit event, and the chain verifies.
    assert _events(mark) == [
        "sighting.state_changed",  # evidence -> notice ready
        "notice.drafted",
        "sighting.state_changed",  # notice ready -> sent
        "notice.sent",
        "sighting.state_changed",  # sent -> removed
        "sighting.rechecked",
    ]
    assert verify()[1] is None
    # Media bytes were never kept: evidence holds digests and hashes only.
    assert not any(
        isinstance(v, bytes | memoryview) and len(v) > 64
        for e in Evidence.objects.all()
        for v in e.__dict__.values()
    )


def test_the_content_coming_back_reopens_the_sighting(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    page = site.put("/back/post", "<html>gone</html>", status=404)
    api = officer.api()
    sid = api.post(
        f"/api/v1/cases/{consenting_case.number}/sightings", {"urls": [page]}, content_type="application/json"
    ).json()["created"][0]["id"]
    assert api.post(f"/api/v1/sightings/{sid}/recheck").json()["gone"] is True
    assert Sighting.objects.get(pk=sid).state == "removed"
    site.put("/back/post", "<html>it is back</html>")
    r = api.post(f"/api/v1/sightings/{sid}/recheck").json()
    assert r["gone"] is False
    s = Sighting.objects.get(pk=sid)
    assert s.state == "found"
    assert s.removed_at is None
    assert [e.to_state for e in s.events.all()] == ["found", "removed", "found"]
