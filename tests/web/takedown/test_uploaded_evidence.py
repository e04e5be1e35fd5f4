"""Evidence the officer uploads for a page Haven cannot fetch: hashed and matched, encrypted,
expiring like screenshots, enough to draft a notice; and a failed capture says so on the sighting."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.takedown import actions
from haven.web.takedown.models import Evidence, EvidenceScreenshot, Platform, Sighting, SightingState
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

from .conftest import jpeg

pytestmark = pytest.mark.django_db


def _sighting(case: Case, officer: Persona, url: str = "https://forum.example/p/1") -> Sighting:
    return actions.add_sightings(actor=officer.user, case=case, urls=[url], source="counsellor").created[0]


@pytest.mark.usefixtures("loopback")
def test_an_uploaded_screenshot_of_her_picture_matches_and_lets_a_notice_be_drafted(
    consenting_case: Case, officer: Persona, photo: Image.Image, platform: Platform
) -> None:
    sighting = _sighting(consenting_case, officer, "http://127.0.0.1/thread/9")
    data = jpeg(photo.resize((photo.width // 2, photo.height // 2)), 70)
    response = signed_in(officer.user).post(
        reverse("takedown:evidence_upload", args=[sighting.pk]),
        {"file": SimpleUploadedFile("shot.jpg", data, content_type="image/jpeg")},
        follow=True,
    )
    assert "it matches the case" in response.content.decode()
    ev = Evidence.objects.get(sighting=sighting)
    assert (ev.purpose, ev.sniffed_type, ev.status) == ("upload", "image/jpeg", None)
    assert ev.distance is not None
    assert ev.matches
    shot = EvidenceScreenshot.objects.get(evidence=ev)
    assert data not in bytes(shot.image_encrypted)  # encrypted
    assert shot.expires_at > timezone.now() + dt.timedelta(days=29)
    sighting.refresh_from_db()
    assert sighting.state == SightingState.EVIDENCE
    event = AuditEvent.objects.filter(event_type=EventType.EVIDENCE_CAPTURED).get()
    assert event.summary["uploaded"] == "image/jpeg"
    # The file comes back, with its own type, each showing audited.
    shown = signed_in(officer.user).get(reverse("takedown:evidence_screenshot", args=[ev.pk]))
    assert shown["Content-Type"] == "image/jpeg"
    assert shown.content == data
    assert AuditEvent.objects.filter(event_type=EventType.SCREENSHOT_VIEWED).count() == 1
    # And a notice can now be drafted.
    notice = actions.draft_notice(
        actor=officer.user,
        sightings=[Sighting.objects.get(pk=sighting.pk)],
        data=actions.NoticeInput(regime="policy", good_faith=True, accurate=True),
    )
    assert notice.pk


def test_a_pdf_of_the_page_is_kept_without_a_match(consenting_case: Case, officer: Persona) -> None:
    sighting = _sighting(consenting_case, officer)
    pdf = b"%PDF-1.4\n% a saved page\n"
    ev = actions.upload_evidence(actor=officer.user, sighting=sighting, data=pdf)
    assert (ev.sniffed_type, ev.distance, ev.pdq) == ("application/pdf", None, "")
    shown = signed_in(officer.user).get(reverse("takedown:evidence_screenshot", args=[ev.pk]))
    assert shown["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "The file is empty."),
        (b"<html><script>alert(1)</script></html>", "Upload a screenshot"),
        (b"MZ\x90\x00 an executable", "Upload a screenshot"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (actions.UPLOAD_MAX_BYTES), "larger than 10 MB"),
    ],
)
def test_anything_but_a_picture_or_pdf_of_a_sane_size_is_refused_and_nothing_kept(
    consenting_case: Case, officer: Persona, data: bytes, error: str
) -> None:
    sighting = _sighting(consenting_case, officer)
    with pytest.raises(ActionError, match=error):
        actions.upload_evidence(actor=officer.user, sighting=sighting, data=data)
    assert not Evidence.objects.exists()
    assert not EvidenceScreenshot.objects.exists()


def test_a_corrupt_picture_is_kept_as_evidence_with_the_reason_it_could_not_be_hashed(
    consenting_case: Case, officer: Persona
) -> None:
    sighting = _sighting(consenting_case, officer)
    ev = actions.upload_evidence(actor=officer.user, sighting=sighting, data=b"\xff\xd8\xff\xe0 truncated")
    assert ev.pdq == ""
    assert ev.error


def test_only_takedown_staff_of_the_same_centre_upload(
    consenting_case: Case, officer: Persona, analyst: Persona, outsider: Persona
) -> None:
    sighting = _sighting(consenting_case, officer)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    for persona, status in ((analyst, 403), (outsider, 404)):
        response = signed_in(persona.user).post(
            reverse("takedown:evidence_upload", args=[sighting.pk]),
            {"file": SimpleUploadedFile("a.png", buffer.getvalue(), content_type="image/png")},
        )
        assert response.status_code == status
    assert not Evidence.objects.exists()


@pytest.mark.usefixtures("loopback")
def test_a_capture_that_cannot_fetch_says_so_on_the_sighting(consenting_case: Case, officer: Persona) -> None:
    sighting = _sighting(consenting_case, officer, "http://127.0.0.1:9/gone")  # nothing listens there
    with pytest.raises(ActionError, match="upload a screenshot of the page instead"):
        actions.capture_evidence(actor=officer.user, sighting=sighting)
    assert not Evidence.objects.filter(sighting=sighting).exists()
    sighting.refresh_from_db()
    assert sighting.state == SightingState.FOUND  # nothing else changed
    page = signed_in(officer.user).get(reverse("takedown:sighting", args=[sighting.pk])).content.decode()
    timeline = page.split('id="timeline-heading"')[1]
    assert "Capture failed: " in timeline


# --- sightings given to an officer -----------------------------------------------------------------


def test_sightings_are_assigned_from_the_queue_shown_as_mine_and_the_officer_told(
    consenting_case: Case, officer: Persona, counsellor: Persona, analyst: Persona, outsider: Persona
) -> None:
    from haven.web.notifications.models import Kind, Notification

    one = _sighting(consenting_case, officer, "https://forum.example/p/1")
    two = _sighting(consenting_case, officer, "https://forum.example/p/2")
    client = signed_in(counsellor.user)
    response = client.post(
        reverse("takedown:bulk"),
        {"sighting": [one.pk, two.pk], "action": "assign", "assignee": officer.user.pk},
    )
    assert response.status_code == 302
    assert set(Sighting.objects.filter(assignee=officer.user).values_list("pk", flat=True)) == {
        one.pk,
        two.pk,
    }
    assert AuditEvent.objects.filter(event_type=EventType.SIGHTING_ASSIGNED).count() == 2
    told = Notification.objects.get(kind=Kind.SIGHTINGS_ASSIGNED)
    assert told.user == officer.user
    assert told.params == {"count": 2}
    mine = signed_in(officer.user).get(reverse("takedown:queue"), {"mine": "on"}).content.decode()
    assert "forum.example/p/1" in mine
    assert "forum.example/p/1" not in client.get(reverse("takedown:queue"), {"mine": "on"}).content.decode()
    # Nobody who may not work on takedowns, and nobody of another centre, can be given them.
    for who in (analyst, outsider):
        with pytest.raises(ActionError):
            actions.assign_sightings(actor=counsellor.user, sightings=[one], assignee=who.user)
    client.post(reverse("takedown:bulk"), {"sighting": [one.pk], "action": "assign", "assignee": "nobody"})
    one.refresh_from_db()
    assert one.assignee is None
    # An unknown officer changes nothing.
    client.post(reverse("takedown:bulk"), {"sighting": [two.pk], "action": "assign", "assignee": "99999"})
    two.refresh_from_db()
    assert two.assignee == officer.user


# --- the notice form ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("loopback")
def test_the_notice_form_is_refused_before_it_is_filled_when_evidence_is_missing(
    consenting_case: Case, officer: Persona, platform: Platform
) -> None:
    sighting = _sighting(consenting_case, officer, "http://127.0.0.1/thread/1")
    response = signed_in(officer.user).get(reverse("takedown:notice_new"), {"s": sighting.pk})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Capture evidence first" in page
    assert "Draft the notice" not in page  # no form to fill in for nothing


def test_the_default_regime_is_the_centres_countrys_when_the_platform_takes_it(admin: Persona) -> None:
    from types import SimpleNamespace

    both = SimpleNamespace(regimes=["dsa", "kr_deletion", "policy"])
    assert actions.default_regime(both, "KR") == "kr_deletion"  # type: ignore[arg-type]
    assert actions.default_regime(both, "de") == "dsa"  # type: ignore[arg-type]
    assert actions.default_regime(both, "BR") == "dsa"  # type: ignore[arg-type]  # the platform's first
    assert actions.default_regime(SimpleNamespace(regimes=[]), "US") == "take_it_down"  # type: ignore[arg-type]
    assert actions.default_regime(None, "") == "policy"


@pytest.mark.usefixtures("loopback")
def test_a_missing_element_is_named_once_at_its_field(
    consenting_case: Case, officer: Persona, platform: Platform, photo: Image.Image
) -> None:
    sighting = _sighting(consenting_case, officer, "http://127.0.0.1/thread/2")
    actions.upload_evidence(actor=officer.user, sighting=sighting, data=jpeg(photo))
    client = signed_in(officer.user)
    form = client.get(reverse("takedown:notice_new"), {"s": sighting.pk}).content.decode()
    assert 'data-for-regimes="dmca"' in form  # the DMCA-only fields, hidden for other regimes
    assert 'value="dsa" selected' in form  # a KR centre, but this platform takes DSA and policy only
    response = client.post(
        reverse("takedown:notice_new"),
        {
            "s": sighting.pk,
            "regime": "dsa",
            "language": "en",
            "signer": "Officer",
            "notifier_email": "takedown@centre-a.example",
            "explanation": "",
        },
    )
    page = response.content.decode()
    for label in ("an explanation of why the content is unlawful", "the good-faith statement"):
        assert page.count(f"Required for this notice: {label}.") == 1, label
    assert "would lack" not in page
    assert 'class="form-errors"' not in page
