"""Reviewer wellbeing: a daily limit on pictures shown sharp, a break reminder, grayscale previews,
and a supervisor's view of review load (counts only); each change audited, bad input refused."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.test import Client
from PIL import Image

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.monitoring import actions, wellbeing
from haven.web.monitoring.models import Candidate, ReviewerCare, ScanRun
from tests.scan.site import TestSite
from tests.web.conftest import Persona

from .conftest import jpeg

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]


@pytest.fixture
def candidate(
    site: TestSite, consenting_case: Case, counsellor: Persona, officer: Persona, photo: Image.Image
) -> Candidate:
    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="monitor", granted=True, method="in_person"
    )
    site.put("/care/a.jpg", jpeg(photo.resize((photo.width // 2, photo.height // 2)), 75), "image/jpeg")
    start = site.put("/care/", '<html><img src="/care/a.jpg"></html>')
    source = actions.save_source(
        actor=officer.user, data=actions.SourceInput(name="Forum", kind="crawl", target=start, depth=1)
    )
    run = actions.queue_run(actor=officer.user, source=source)
    actions.execute_run(ScanRun.objects.get(pk=run.pk))
    return Candidate.objects.get()


def _sharp(web: Client, candidate: Candidate) -> int:
    return web.get(f"/monitoring/candidates/{candidate.pk}/image/?sharp=1").status_code


def test_the_daily_limit_keeps_pictures_blurred_once_reached(
    candidate: Candidate, reviewer: Persona, admin: Persona, client_of: Callable[[Persona], Client]
) -> None:
    wellbeing.set_limits(actor=admin.user, user=reviewer.user, daily_limit=2, break_every=0)
    web = client_of(reviewer)
    assert _sharp(web, candidate) == 200
    assert "Show the picture" in web.get("/monitoring/").content.decode()
    assert _sharp(web, candidate) == 200
    shown = AuditEvent.objects.filter(event_type=EventType.CANDIDATE_VIEWED).count()
    refused = web.get(f"/monitoring/candidates/{candidate.pk}/image/?sharp=1")
    assert refused.status_code == 429
    assert "daily limit" in refused.content.decode()
    assert AuditEvent.objects.filter(event_type=EventType.CANDIDATE_VIEWED).count() == shown  # not shown
    page = web.get("/monitoring/").content.decode()
    assert "your daily limit" in page
    assert "Show the picture" not in page
    # Blurred previews and decisions go on.
    assert web.get(f"/monitoring/candidates/{candidate.pk}/image/").status_code == 200
    assert (
        web.post(f"/monitoring/candidates/{candidate.pk}/decide/", {"decision": "reject"}).status_code == 302
    )
    candidate.refresh_from_db()
    assert candidate.state == "rejected"


def test_a_break_reminder_after_many_pictures_in_an_hour(
    candidate: Candidate, reviewer: Persona, admin: Persona, client_of: Callable[[Persona], Client]
) -> None:
    wellbeing.set_limits(actor=admin.user, user=reviewer.user, daily_limit=50, break_every=2)
    web = client_of(reviewer)
    assert "Take a break" not in web.get("/monitoring/").content.decode()
    _sharp(web, candidate)
    _sharp(web, candidate)
    assert (
        "You have looked at 2 pictures in the last hour. Take a break"
        in web.get("/monitoring/").content.decode()
    )


def test_grayscale_previews_are_her_own_choice(
    candidate: Candidate, reviewer: Persona, colleague: Persona, client_of: Callable[[Persona], Client]
) -> None:
    web = client_of(reviewer)
    assert (
        Image.open(io.BytesIO(web.get(f"/monitoring/candidates/{candidate.pk}/image/").content)).mode == "RGB"
    )
    assert web.post("/monitoring/grayscale/", {"grayscale": "1"}).status_code == 302
    for url in (
        f"/monitoring/candidates/{candidate.pk}/image/",
        f"/monitoring/candidates/{candidate.pk}/image/?sharp=1",
    ):
        assert Image.open(io.BytesIO(web.get(url).content)).mode == "L"
    # Only hers: a colleague still sees colour.
    other = client_of(colleague).get(f"/monitoring/candidates/{candidate.pk}/image/")
    assert Image.open(io.BytesIO(other.content)).mode == "RGB"
    assert AuditEvent.objects.get(event_type=EventType.REVIEWER_CARE_CHANGED).summary == {"grayscale": True}
    assert "Show previews in colour" in web.get("/monitoring/").content.decode()


def test_the_supervisor_sees_counts_only_and_sets_limits(
    candidate: Candidate,
    reviewer: Persona,
    admin: Persona,
    outsider: Persona,
    counsellor: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    _sharp(client_of(reviewer), candidate)
    boss = client_of(admin)
    page = boss.get("/monitoring/review-load/").content.decode()
    assert ">reviewer</th>" in page
    assert candidate.media_url not in page  # counts, never which pictures
    rows = {r.user.username: r for r in wellbeing.review_load(admin.user)}
    assert rows["reviewer"].shown_today == 1
    assert rows["reviewer"].shown_week == 1
    assert "analyst" not in rows  # may not review
    answer = boss.post(
        "/monitoring/review-load/", {"user": reviewer.user.pk, "daily_limit": 30, "break_every": 10}
    )
    assert answer.status_code == 302
    care = ReviewerCare.objects.get(user=reviewer.user)
    assert (care.daily_limit, care.break_every) == (30, 10)
    # Another centre's user is not ours to limit; a counsellor may not see the page.
    assert (
        boss.post(
            "/monitoring/review-load/", {"user": outsider.user.pk, "daily_limit": 5, "break_every": 1}
        ).status_code
        == 404
    )
    assert not ReviewerCare.objects.filter(user=outsider.user).exists()
    assert client_of(counsellor).get("/monitoring/review-load/").status_code == 403


@pytest.mark.parametrize(("limit", "every"), [(0, 0), (1001, 10), (10, 11), (10, -1)])
def test_bad_limits_are_refused_and_change_nothing(
    reviewer: Persona, admin: Persona, limit: int, every: int
) -> None:
    with pytest.raises(ActionError):
        wellbeing.set_limits(actor=admin.user, user=reviewer.user, daily_limit=limit, break_every=every)
    assert not ReviewerCare.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.REVIEWER_CARE_CHANGED).exists()


def test_a_form_with_words_for_numbers_gets_a_clear_error(
    reviewer: Persona, admin: Persona, client_of: Callable[[Persona], Client]
) -> None:
    boss = client_of(admin)
    answer = boss.post(
        "/monitoring/review-load/",
        {"user": reviewer.user.pk, "daily_limit": "lots", "break_every": 1},
        follow=True,
    )
    assert "Give whole numbers of pictures." in answer.content.decode()
    assert not ReviewerCare.objects.exists()


@pytest.mark.parametrize("who", ["abc", "", "9" * 30])
def test_a_bad_reviewer_number_is_a_404_not_an_error(
    admin: Persona, client_of: Callable[[Persona], Client], who: str
) -> None:
    answer = client_of(admin).post(
        "/monitoring/review-load/", {"user": who, "daily_limit": 5, "break_every": 1}
    )
    assert answer.status_code == 404
    assert not ReviewerCare.objects.exists()
