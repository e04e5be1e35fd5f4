"""Monitoring end to end: a source on a real local site, a run, the review queue, confirm and reject."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from haven.web.audit.models import AuditEvent
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.monitoring import actions
from haven.web.monitoring.models import Candidate, MonitorSource, ScanRun
from haven.web.notifications.models import Kind, Notification
from haven.web.takedown.models import Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Persona

from .conftest import jpeg

pytestmark = pytest.mark.usefixtures("loopback")


@pytest.fixture
def monitored(consenting_case: Case, counsellor: Persona) -> Case:
    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="monitor", granted=True, method="in_person"
    )
    return consenting_case


def _other_photo() -> bytes:
    """An unrelated picture with detail, so it hashes with good quality."""
    import numpy as np

    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    return jpeg(Image.fromarray(noise).resize((512, 384), Image.Resampling.BICUBIC))


def _site(site: TestSite, photo: Image.Image, prefix: str) -> str:
    """A small forum: a page with the survivor's photo (re-encoded, smaller) and one with another picture."""
    site.put(
        f"{prefix}/img/a.jpg", jpeg(photo.resize((photo.width // 2, photo.height // 2)), 75), "image/jpeg"
    )
    site.put(f"{prefix}/img/b.jpg", _other_photo(), "image/jpeg")
    site.put(f"{prefix}/post/1", f'<html><body><img src="{prefix}/img/a.jpg"></body></html>')
    site.put(f"{prefix}/post/2", f'<html><body><img src="{prefix}/img/b.jpg"></body></html>')
    return site.put(
        f"{prefix}/",
        f'<html><body><a href="{prefix}/post/1">one</a> <a href="{prefix}/post/2">two</a></body></html>',
    )


def _source(officer: Persona, start: str, **extra: object) -> MonitorSource:
    data = actions.SourceInput(name="Local forum", kind="crawl", target=start, depth=1, **extra)  # type: ignore[arg-type]
    return actions.save_source(actor=officer.user, data=data)


def _run(officer: Persona, source: MonitorSource) -> ScanRun:
    run = actions.queue_run(actor=officer.user, source=source)
    return actions.execute_run(ScanRun.objects.get(pk=run.pk))


def test_a_run_finds_the_planted_copy_and_only_it(
    site: TestSite, monitored: Case, officer: Persona, photo: Image.Image
) -> None:
    source = _source(officer, _site(site, photo, "/m1"))
    run = _run(officer, source)
    assert run.status == "done", run.failure
    assert run.stats["pages"] == 3
    assert run.stats["hashed"] == 2
    assert run.candidates == 1
    assert run.bank_size >= 1
    (candidate,) = Candidate.objects.all()
    assert candidate.case == monitored
    assert candidate.media_url.endswith("/m1/img/a.jpg")
    assert candidate.page_url.endswith("/m1/post/1")
    assert candidate.distance <= 31
    source.refresh_from_db()
    assert source.next_run_at is not None
    assert source.next_run_at > timezone.now() + dt.timedelta(hours=23)
    # The review queue's people hear of it (the officer: reviewing is her work, not the counsellor's).
    told = Notification.objects.get(kind=Kind.CANDIDATES)
    assert told.user == officer.user
    assert told.params == {"count": 1}
    # The same run again raises nothing new.
    assert _run(officer, source).candidates == 0
    assert Notification.objects.filter(kind=Kind.CANDIDATES).count() == 1


def test_cases_without_monitoring_consent_are_not_looked_for(
    site: TestSite, consenting_case: Case, officer: Persona, photo: Image.Image
) -> None:
    run = _run(officer, _source(officer, _site(site, photo, "/m2")))
    assert run.bank_size == 0
    assert run.candidates == 0


def test_review_confirm_makes_a_sighting_with_evidence(
    site: TestSite,
    monitored: Case,
    officer: Persona,
    reviewer: Persona,
    photo: Image.Image,
    platform: object,
    client_of: Callable[[Persona], Client],
) -> None:
    _run(officer, _source(officer, _site(site, photo, "/m3")))
    candidate = Candidate.objects.get()
    web = client_of(reviewer)
    page = web.get("/monitoring/")
    assert page.status_code == 200
    assert monitored.number.encode() in page.content
    assert b"the whole picture" in page.content  # how it matched, in words
    blurred = web.get(f"/monitoring/candidates/{candidate.pk}/image/")
    assert blurred["Content-Type"] == "image/jpeg"
    assert "no-store" in blurred["Cache-Control"]
    before = AuditEvent.objects.filter(event_type="candidate.viewed").count()
    sharp = web.get(f"/monitoring/candidates/{candidate.pk}/image/?sharp=1")
    assert AuditEvent.objects.filter(event_type="candidate.viewed").count() == before + 1

    # Blurred really is blurred: far less fine detail than the sharp one.
    def detail(data: bytes) -> float:
        from PIL import ImageFilter, ImageStat

        image = Image.open(io.BytesIO(data)).convert("L")
        return float(ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES)).mean[0])

    assert detail(blurred.content) < detail(sharp.content) / 2
    r = web.post(f"/monitoring/candidates/{candidate.pk}/decide/", {"decision": "confirm"})
    assert r.status_code == 302
    candidate.refresh_from_db()
    assert candidate.state == "confirmed"
    sighting = Sighting.objects.get(pk=candidate.sighting_id)
    assert sighting.source == "monitoring"
    assert sighting.url.endswith("/m3/post/1")
    assert sighting.media_url.endswith("/m3/img/a.jpg")
    assert sighting.state == "evidence"
    media = sighting.evidence.get(kind="media")
    assert media.matches
    assert AuditEvent.objects.filter(event_type="candidate.confirmed").count() == 1
    r = web.post(f"/monitoring/candidates/{candidate.pk}/decide/", {"decision": "reject"})
    assert Candidate.objects.get(pk=candidate.pk).state == "confirmed"  # decided once


def test_a_rejected_picture_is_not_raised_again_for_the_case(
    site: TestSite, monitored: Case, officer: Persona, reviewer: Persona, photo: Image.Image
) -> None:
    source = _source(officer, _site(site, photo, "/m4"))
    _run(officer, source)
    actions.reject(actor=reviewer.user, candidate=Candidate.objects.get())
    # The same picture at another address, and a near copy of it, are not raised again.
    site.put("/m4/img/a2.jpg", jpeg(photo.resize((photo.width // 2, photo.height // 2)), 75), "image/jpeg")
    site.put("/m4/img/a3.jpg", jpeg(photo.resize((photo.width // 2, photo.height // 2)), 60), "image/jpeg")
    site.put("/m4/post/3", '<html><img src="/m4/img/a2.jpg"><img src="/m4/img/a3.jpg"></html>')
    site.put("/m4/", '<html><a href="/m4/post/1">1</a><a href="/m4/post/3">3</a></html>')
    run = _run(officer, source)
    assert run.stats["hashed"] >= 3
    assert run.candidates == 0
    assert Candidate.objects.filter(state="pending").count() == 0


def test_withdrawing_monitoring_consent_drops_waiting_matches_at_once(
    site: TestSite, monitored: Case, officer: Persona, counsellor: Persona, photo: Image.Image
) -> None:
    source = _source(officer, _site(site, photo, "/m5"))
    _run(officer, source)
    assert Candidate.objects.filter(state="pending").count() == 1
    case_actions.record_consent(
        actor=counsellor.user, case=monitored, scope="monitor", granted=False, method="phone"
    )
    assert Candidate.objects.count() == 0
    run = _run(officer, source)
    assert run.bank_size == 0
    assert run.candidates == 0


def test_sources_refuse_hostile_addresses(monitored: Case, officer: Persona) -> None:
    for target in (
        "file:///etc/passwd",
        "http://10.0.0.1/",
        "javascript:alert(1)",
        "http://169.254.169.254/",
    ):
        with pytest.raises(ActionError):
            actions.save_source(
                actor=officer.user, data=actions.SourceInput(name="x", kind="crawl", target=target)
            )
    with pytest.raises(ActionError, match=r"Line|valid|http"):
        actions.save_source(
            actor=officer.user,
            data=actions.SourceInput(name="x", kind="urls", target="https://ok.example/\nftp://bad.example/"),
        )
    assert MonitorSource.objects.count() == 0


def test_a_hostile_site_gives_per_url_errors_and_the_run_goes_on(
    site: TestSite, monitored: Case, officer: Persona, photo: Image.Image
) -> None:
    _site(site, photo, "/m6")
    site.put("/m6/bad.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    urls = "\n".join(
        site.url(p) for p in ("/m6/post/1", "/loop/a", "/status/500", "/to?u=http://10.9.9.9/", "/m6/bad.jpg")
    )
    source = actions.save_source(
        actor=officer.user, data=actions.SourceInput(name="list", kind="urls", target=urls)
    )
    run = _run(officer, source)
    assert run.status == "done"
    assert run.candidates == 1
    assert run.error_count >= 2
    codes = {e["code"] for e in run.errors}
    assert codes & {"too_many_redirects", "redirect_loop"}


def test_who_may_do_what(
    site: TestSite,
    monitored: Case,
    officer: Persona,
    reviewer: Persona,
    outsider: Persona,
    analyst: Persona,
    photo: Image.Image,
    client_of: Callable[[Persona], Client],
) -> None:
    _run(officer, _source(officer, _site(site, photo, "/m7")))
    candidate = Candidate.objects.get()
    assert client_of(reviewer).get("/monitoring/sources/").status_code == 403
    assert client_of(analyst).get("/monitoring/").status_code == 403
    outsider_web = client_of(outsider)
    assert outsider_web.get(f"/monitoring/candidates/{candidate.pk}/image/").status_code == 404
    r = outsider_web.post(f"/monitoring/candidates/{candidate.pk}/decide/", {"decision": "reject"})
    assert r.status_code == 404
    assert monitored.number.encode() not in outsider_web.get("/monitoring/").content
    assert Candidate.objects.get().state == "pending"


# The worker closes its database connection after its jobs, as in production; on PostgreSQL that
# would end a test wrapped in one transaction, so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_due_sources(
    site: TestSite,
    monitored: Case,
    officer: Persona,
    photo: Image.Image,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    from haven.web.monitoring.tasks import sweep

    source = _source(officer, _site(site, photo, "/m8"), every_hours=6)
    assert source.next_run_at is not None
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        assert sweep.call() == 1
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    run = ScanRun.objects.get(source=source)
    assert run.status == "done"
    assert run.started_by == "scheduler"
    assert run.candidates == 1


def test_a_run_is_claimed_by_one_worker_only(
    site: TestSite, monitored: Case, officer: Persona, photo: Image.Image
) -> None:
    from haven.web.monitoring.tasks import run_source

    run = actions.queue_run(actor=officer.user, source=_source(officer, _site(site, photo, "/m9")))
    assert run_source.call(run.pk) == "done"
    # A second worker handed the same job finds it taken and scans nothing.
    assert run_source.call(run.pk) == "gone"
    assert Candidate.objects.count() == 1
    assert ScanRun.objects.get(pk=run.pk).candidates == 1
