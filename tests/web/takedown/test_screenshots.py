"""Evidence screenshots: Chromium renders the page with every request answered by the safe
fetcher; the picture is stored encrypted, shown to the organisation's staff (audited), and
deleted at expiry while its SHA-256 stays on the record."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import io
import ipaddress
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from haven.scan import FetchPolicy, fetch
from haven.scan import _fetch as fetch_module
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case
from haven.web.core import crypto
from haven.web.core.tasks import reencrypt_with_current_key
from haven.web.takedown import actions, screenshot, tasks
from haven.web.takedown.models import Evidence, EvidenceScreenshot, Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Persona

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> str:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("HAVEN_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture
def shots_on(loopback: None, chromium: str) -> Iterator[None]:
    with override_settings(HAVEN_EVIDENCE_SCREENSHOTS=True, HAVEN_CHROMIUM=chromium):
        yield


def _png(colour: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _sighting(officer: Persona, case: Case, url: str) -> Sighting:
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True):
        return actions.add_sightings(actor=officer.user, case=case, urls=[url], source="counsellor").created[
            0
        ]


@pytest.fixture
def fake_camera(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Screenshots on, with Chromium replaced by a fixed picture: for what happens after the browser."""
    png = _png("blue", (1280, 90))

    def take(url: str, **kwargs: object) -> screenshot.Screenshot:
        return screenshot.Screenshot(
            png=png,
            sha256=hashlib.sha256(png).hexdigest(),
            width=1280,
            height=90,
            clipped=False,
            fetched=(url,),
            refused=(),
        )

    monkeypatch.setattr(screenshot, "take", take)
    return png


@pytest.fixture
def captured(
    site: TestSite, loopback: None, consenting_case: Case, officer: Persona, fake_camera: bytes
) -> Evidence:
    page = site.put("/shots/fake", "<html><body>a page</body></html>")
    sighting = _sighting(officer, consenting_case, page)
    with override_settings(HAVEN_EVIDENCE_SCREENSHOTS=True):
        rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    return rows[0]


# --- with Chromium -------------------------------------------------------------------------------


def test_a_capture_stores_an_encrypted_screenshot_of_the_page(
    site: TestSite, shots_on: None, consenting_case: Case, officer: Persona
) -> None:
    site.put("/shots/square.png", _png("red", (200, 200)), "image/png")
    page = site.put(
        "/shots/page",
        "<html><body style='margin:0;background:#fff'><img src='/shots/square.png'>"
        "<div style='height:1500px'></div></body></html>",
    )
    sighting = _sighting(officer, consenting_case, page)
    before = timezone.now()
    rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    after = timezone.now()

    ev = Evidence.objects.get(pk=rows[0].pk)
    assert ev.kind == Evidence.Kind.PAGE
    assert ev.screenshot_error == ""
    stored = EvidenceScreenshot.objects.get(evidence=ev)
    assert PNG_MAGIC not in bytes(stored.image_encrypted)
    png = crypto.decrypt_bytes(stored.image_encrypted, EvidenceScreenshot.context(ev.pk))
    assert png.startswith(PNG_MAGIC)
    assert hashlib.sha256(png).hexdigest() == ev.screenshot_sha256
    with Image.open(io.BytesIO(png)) as image:
        picture = image.convert("RGB")
    assert picture.width == screenshot.VIEWPORT_WIDTH
    assert picture.height >= 1500  # the whole page, not just the viewport
    assert picture.getpixel((100, 100)) == (255, 0, 0)  # the page's picture, fetched for the browser
    assert picture.getpixel((600, 100)) == (255, 255, 255)
    days = dt.timedelta(days=30)
    assert ev.screenshot_expires_at is not None
    assert before + days <= ev.screenshot_expires_at <= after + days
    assert stored.expires_at == ev.screenshot_expires_at
    event = AuditEvent.objects.filter(event_type=EventType.EVIDENCE_CAPTURED).latest("sequence")
    assert event.summary["screenshot_sha256"] == ev.screenshot_sha256


def test_a_long_page_is_clipped_at_the_height_limit(
    site: TestSite, shots_on: None, consenting_case: Case, officer: Persona
) -> None:
    page = site.put("/shots/long", "<html><body><div style='height:30000px'>long</div></body></html>")
    policy = FetchPolicy(allow_loopback=True, total_timeout_s=5)
    shot = screenshot.take(page, policy=policy, executable=str(CHROMIUM))
    assert (shot.height, shot.clipped) == (screenshot.MAX_HEIGHT, True)
    with Image.open(io.BytesIO(shot.png)) as image:
        assert image.size == (screenshot.VIEWPORT_WIDTH, screenshot.MAX_HEIGHT)


class _Recorder:
    """A second local web server, on another loopback address, that notes every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"recorded")

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.base = f"http://127.0.0.2:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    rec = _Recorder()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def _hostile(site: TestSite, recorder: _Recorder, name: str) -> str:
    r = recorder.base
    return site.put(
        f"/shots/{name}",
        f"""<html><body><h1>hostile</h1>
        <img src="{r}/img"><script src="{r}/script"></script><iframe src="{r}/frame"></iframe>
        <link rel="stylesheet" href="{r}/style">
        <img src="http://10.0.0.1/internal.png"><iframe src="http://169.254.169.254/latest/meta-data/"></iframe>
        <script>
          fetch("{r}/fetch").catch(() => null);
          fetch("http://10.0.0.1/api").catch(() => null);
          fetch("{r}/post", {{method: "POST", body: "x"}}).catch(() => null);
        </script></body></html>""",
    )


@pytest.fixture
def forbid_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetcher's address guard also refuses 127.0.0.2, while 127.0.0.1 (the test site) stays allowed.

    This patches Haven's guard in this process only: Chromium, a process of its own, could still
    reach 127.0.0.2 if it made the request itself.  So a hit on the recorder means a request got
    past interception.
    """
    original = fetch_module.refusal
    forbidden = ipaddress.ip_address("127.0.0.2")

    def refusal(
        address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool
    ) -> str | None:
        if address == forbidden:
            return "forbidden in this test"
        return original(address, allow_loopback=allow_loopback)

    monkeypatch.setattr(fetch_module, "refusal", refusal)


def test_the_browser_reaches_nothing_that_the_fetcher_refuses(
    site: TestSite, recorder: _Recorder, forbid_recorder: None, chromium: str
) -> None:
    page = _hostile(site, recorder, "hostile")
    policy = FetchPolicy(allow_loopback=True, total_timeout_s=5)
    shot = screenshot.take(page, policy=policy, executable=chromium, already=fetch(page, policy))

    assert recorder.requests == []
    refused = dict(shot.refused)
    for path in ("/img", "/script", "/frame", "/style", "/fetch"):
        assert refused[recorder.base + path] == "blocked_address"  # seen by the handler, and refused
    assert refused[recorder.base + "/post"] == "method"
    assert refused["http://10.0.0.1/internal.png"] == "blocked_address"
    assert refused["http://10.0.0.1/api"] == "blocked_address"
    assert refused["http://169.254.169.254/latest/meta-data/"] == "blocked_address"
    assert shot.fetched == (page,)
    assert shot.png.startswith(PNG_MAGIC)


def test_what_the_browser_loads_comes_through_the_safe_fetcher(
    site: TestSite, recorder: _Recorder, chromium: str
) -> None:
    # The same page with the recorder allowed: it is reachable, and what reaches it is Haven's
    # fetcher (no browser headers such as Sec-Fetch-Mode or Referer, no POST), never Chromium.
    page = _hostile(site, recorder, "allowed")
    policy = FetchPolicy(allow_loopback=True, total_timeout_s=5)
    shot = screenshot.take(page, policy=policy, executable=chromium)

    paths = sorted(path for path, _headers in recorder.requests)
    assert paths == ["/fetch", "/frame", "/img", "/script", "/style"]
    for _path, headers in recorder.requests:
        assert headers["user-agent"] == policy.user_agent
        assert "sec-fetch-mode" not in headers
        assert "referer" not in headers
    assert sorted(shot.fetched) == sorted([page, *(recorder.base + p for p in paths)])


def test_with_screenshots_on_a_refused_page_fetch_still_changes_nothing(
    site: TestSite, shots_on: None, consenting_case: Case, officer: Persona
) -> None:
    from haven.web.core.errors import ActionError

    sighting = _sighting(officer, consenting_case, site.url("/to?u=http://10.1.2.3/"))
    with pytest.raises(ActionError, match="Could not fetch"):
        actions.capture_evidence(actor=officer.user, sighting=sighting)
    assert not Evidence.objects.filter(sighting=sighting).exists()


# --- without Chromium ----------------------------------------------------------------------------


def test_screenshots_are_off_by_default_and_no_browser_is_launched(
    site: TestSite, loopback: None, consenting_case: Case, officer: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    def take(*args: object, **kwargs: object) -> None:
        raise AssertionError("the browser was started")

    monkeypatch.setattr(screenshot, "take", take)
    sighting = _sighting(officer, consenting_case, site.put("/shots/off", "<html>off</html>"))
    rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    assert (rows[0].screenshot_sha256, rows[0].screenshot_error, rows[0].screenshot_expires_at) == (
        "",
        "",
        None,
    )
    assert not EvidenceScreenshot.objects.exists()


def test_a_missing_chromium_is_noted_and_the_capture_is_still_recorded(
    site: TestSite, loopback: None, consenting_case: Case, officer: Persona
) -> None:
    sighting = _sighting(officer, consenting_case, site.put("/shots/nobrowser", "<html>x</html>"))
    with override_settings(HAVEN_EVIDENCE_SCREENSHOTS=True, HAVEN_CHROMIUM="/nonexistent/chromium"):
        rows = actions.capture_evidence(actor=officer.user, sighting=sighting)
    ev = Evidence.objects.get(pk=rows[0].pk)
    assert ev.status == 200
    assert ev.sha256
    assert "Chromium was not found at /nonexistent/chromium" in ev.screenshot_error
    assert ev.screenshot_sha256 == ""
    assert not EvidenceScreenshot.objects.exists()
    assert Sighting.objects.get(pk=sighting.pk).state == "evidence"


def test_the_officer_is_told_why_there_is_no_screenshot(
    site: TestSite,
    loopback: None,
    consenting_case: Case,
    officer: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    sighting = _sighting(officer, consenting_case, site.put("/shots/told", "<html>x</html>"))
    with override_settings(HAVEN_EVIDENCE_SCREENSHOTS=True, HAVEN_CHROMIUM="/nonexistent/chromium"):
        response = client_of(officer).post(
            reverse("takedown:sighting_action", args=[sighting.pk]), {"action": "capture"}, follow=True
        )
    text = response.content.decode()
    assert "Evidence captured" in text
    assert "Chromium was not found" in text


def test_expiry_deletes_the_picture_and_keeps_its_digest(captured: Evidence) -> None:
    digest = captured.screenshot_sha256
    assert actions.expire_screenshots() == 0  # not yet
    assert captured.screenshot_expires_at is not None
    assert tasks.sweep.call() >= 0
    assert EvidenceScreenshot.objects.filter(evidence=captured).exists()

    later = captured.screenshot_expires_at + dt.timedelta(seconds=1)
    assert actions.expire_screenshots(now=later) == 1
    ev = Evidence.objects.get(pk=captured.pk)
    assert not EvidenceScreenshot.objects.filter(evidence=ev).exists()
    assert ev.screenshot_sha256 == digest
    assert ev.screenshot_expires_at == captured.screenshot_expires_at
    event = AuditEvent.objects.filter(event_type=EventType.SCREENSHOTS_EXPIRED).get()
    assert event.summary == {"evidence": [ev.pk]}
    assert actions.expire_screenshots(now=later) == 0


def test_the_sweep_deletes_expired_screenshots(captured: Evidence) -> None:
    EvidenceScreenshot.objects.filter(evidence=captured).update(expires_at=timezone.now())
    tasks.sweep.call()
    assert not EvidenceScreenshot.objects.exists()
    assert Evidence.objects.get(pk=captured.pk).screenshot_sha256 == captured.screenshot_sha256


def test_showing_a_screenshot_is_audited_and_never_cached(
    captured: Evidence, fake_camera: bytes, officer: Persona, client_of: Callable[[Persona], Client]
) -> None:
    client = client_of(officer)
    page = client.get(reverse("takedown:sighting", args=[captured.sighting_id])).content.decode()
    url = reverse("takedown:evidence_screenshot", args=[captured.pk])
    assert url in page
    assert "Show screenshot" in page
    assert not AuditEvent.objects.filter(event_type=EventType.SCREENSHOT_VIEWED).exists()

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    assert response.content == fake_camera
    event = AuditEvent.objects.filter(event_type=EventType.SCREENSHOT_VIEWED).get()
    assert event.actor_id == officer.user.pk
    assert event.object_id == str(captured.pk)
    assert event.summary["screenshot_sha256"] == captured.screenshot_sha256


def test_an_expired_screenshot_is_not_shown_even_before_the_job_runs(
    captured: Evidence, officer: Persona, client_of: Callable[[Persona], Client]
) -> None:
    EvidenceScreenshot.objects.filter(evidence=captured).update(expires_at=timezone.now())
    Evidence.objects.filter(pk=captured.pk).update(screenshot_expires_at=timezone.now())
    client = client_of(officer)
    assert client.get(reverse("takedown:evidence_screenshot", args=[captured.pk])).status_code == 404
    page = client.get(reverse("takedown:sighting", args=[captured.sighting_id])).content.decode()
    assert "Show screenshot" not in page
    assert "Screenshot deleted at expiry." in page
    assert not AuditEvent.objects.filter(event_type=EventType.SCREENSHOT_VIEWED).exists()


def test_other_organisations_get_404_and_roles_without_takedown_403(
    captured: Evidence, outsider: Persona, analyst: Persona, client_of: Callable[[Persona], Client]
) -> None:
    url = reverse("takedown:evidence_screenshot", args=[captured.pk])
    assert client_of(outsider).get(url).status_code == 404
    assert client_of(analyst).get(url).status_code == 403
    missing = reverse("takedown:evidence_screenshot", args=[captured.pk + 1000])
    assert client_of(outsider).get(missing).status_code == 404
    assert not AuditEvent.objects.filter(event_type=EventType.SCREENSHOT_VIEWED).exists()


def test_the_api_says_whether_a_screenshot_exists_but_never_gives_it(
    captured: Evidence, fake_camera: bytes, officer: Persona
) -> None:
    body = officer.api().get(f"/api/v1/sightings/{captured.sighting_id}").json()
    page = next(e for e in body["evidence"] if e["id"] == captured.pk)
    assert page["screenshot"] is True
    assert page["screenshot_sha256"] == captured.screenshot_sha256
    assert page["screenshot_expires_at"] is not None
    assert page["screenshot_error"] == ""
    assert base64.b64encode(fake_camera[:24]).decode()[:16] not in str(body)  # no picture, not even base64


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(captured: Evidence) -> None:
    stored = EvidenceScreenshot.objects.get(evidence=captured)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(stored.image_encrypted, EvidenceScreenshot.context(captured.pk + 1))


def test_key_rotation_rewrites_screenshots(captured: Evidence, fake_camera: bytes, settings: object) -> None:
    new = base64.urlsafe_b64encode(b"S" * 32).decode()
    old_keys = list(settings.HAVEN_ENCRYPTION_KEYS)  # type: ignore[attr-defined]
    with override_settings(HAVEN_ENCRYPTION_KEYS=[new, *old_keys]):
        reencrypt_with_current_key.call()
        stored = EvidenceScreenshot.objects.get(evidence=captured)
        assert crypto.is_current(stored.image_encrypted)
        event = AuditEvent.objects.filter(event_type=EventType.KEYS_ROTATED).get()
        assert event.summary == {"cases": 1, "screenshots": 1}
    with override_settings(HAVEN_ENCRYPTION_KEYS=[new]):
        assert (
            crypto.decrypt_bytes(stored.image_encrypted, EvidenceScreenshot.context(captured.pk))
            == fake_camera
        )
