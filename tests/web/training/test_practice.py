"""The practice web site a sandbox gets: a forum, an image host and a search page with planted
copies of its synthetic pictures, an abuse contact that removes what a notice names properly and
refuses the rest with the reason, and hostile pages that the safe fetcher refuses clearly.  The
journey runs over real HTTP against Haven's own server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.test import Client, override_settings
from PIL import Image

from haven.signals import pdq_hash
from haven.web.accounts.actions import create_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.cases.models import ContentItem
from haven.web.core.errors import ActionError
from haven.web.core.practice import original
from haven.web.monitoring import actions as monitoring
from haven.web.monitoring.models import Candidate, MonitorSource, ScanRun
from haven.web.takedown import actions as takedown
from haven.web.takedown.models import Platform, Sighting
from haven.web.training import practice, sandbox
from haven.web.training.mailbox import deliver
from haven.web.training.models import PracticeRemoval, SandboxMail

pytestmark = pytest.mark.django_db


@pytest.fixture
def drill(db: None) -> Organisation:
    return sandbox.create_sandbox(actor="test", name="Drill", slug="drill", country="KR")


def _notice(org: Organisation, *urls: str) -> SandboxMail:
    body = "Please remove:\n" + "\n".join(f"- {u}" for u in urls)
    deliver(
        EmailMessage("Takedown notice HV-1", body, "centre@haven.test", [practice.CONTACT]),
        organisation_id=org.pk,
        kind="notice",
    )
    return SandboxMail.objects.filter(organisation=org, kind="reply").latest("pk")


def test_the_practice_site_is_a_sandbox_own(drill: Organisation, org_a: Organisation) -> None:
    web = Client()
    base = practice.prefix(drill)
    for path in ("", "forum/", "forum/post/1/", "host/", "host/view/2/", "search/?q=x"):
        assert web.get(base + path).status_code == 200, path
    for path in ("forum/img/1.jpg", "host/2.jpg"):
        answer = web.get(base + path)
        assert answer["Content-Type"] == "image/jpeg"
    assert web.get(base + "forum/post/7/").status_code == 404
    assert web.get(f"/practice/s/{org_a.slug}/").status_code == 404  # a real centre has none
    assert web.get("/practice/s/nowhere/").status_code == 404


def test_the_planted_copies_are_edited_but_still_hers(drill: Organisation) -> None:
    web = Client()
    base = practice.prefix(drill)
    for n in range(1, practice.PICTURES + 1):
        mine = pdq_hash(original(n)).hash
        forum = pdq_hash(web.get(f"{base}forum/img/{n}.jpg").content).hash
        host = pdq_hash(web.get(f"{base}host/{n}.jpg").content)
        assert mine.distance(forum) <= 31  # a re-upload: the plain hash still matches
        assert mine.distance(host.hash) > 31  # mirrored: plain PDQ misses it ...
        assert min(mine.distance(v) for v in host.dihedral()) <= 31  # ... its mirror catches it


def test_the_abuse_contact_removes_what_is_named_properly_and_refuses_the_rest(drill: Organisation) -> None:
    web = Client()
    base = practice.prefix(drill)
    site = practice.origin() + base
    reply = _notice(drill, f"{site}forum/post/3/", f"{site}host/view/4/")
    assert "We removed:" in reply.body
    assert f"{site}forum/post/3/" in reply.body
    assert "direct address of each image file" in reply.body
    assert f"{site}host/view/4/" in reply.body
    assert reply.recipients == "centre@haven.test"
    assert web.get(base + "forum/post/3/").status_code == 410
    assert web.get(base + "forum/img/3.jpg").status_code == 410
    assert "forum/post/3/" not in web.get(base + "search/?q=x").content.decode()
    assert web.get(base + "host/view/4/").status_code == 200  # refused: still up
    # With the file's own address, the host acts.
    reply = _notice(drill, f"{site}host/view/4/", f"{site}host/4.jpg")
    assert "direct address" not in reply.body
    assert web.get(base + "host/view/4/").status_code == 410
    assert web.get(base + "host/4.jpg").status_code == 410
    # Addresses elsewhere: no action, said so.
    assert "taken no action" in _notice(drill, "https://elsewhere.example/x").body


def test_another_sandbox_notice_removes_nothing_here(drill: Organisation) -> None:
    other = sandbox.create_sandbox(actor="test", name="Other", slug="other", country="KR")
    _notice(other, practice.origin() + practice.prefix(drill) + "forum/post/1/")
    assert Client().get(practice.prefix(drill) + "forum/post/1/").status_code == 200
    assert not PracticeRemoval.objects.exists()


def test_a_reset_puts_the_practice_site_back(drill: Organisation) -> None:
    _notice(drill, practice.origin() + practice.prefix(drill) + "forum/post/2/")
    assert Client().get(practice.prefix(drill) + "forum/post/2/").status_code == 410
    sandbox.reset(actor="test", organisation=drill)
    assert Client().get(practice.prefix(drill) + "forum/post/2/").status_code == 200


@pytest.fixture
def served(live_server: Any) -> Iterator[str]:
    """Haven's own server, which the safe fetcher may reach on loopback, as HAVEN_BASE_URL."""
    url = live_server.url.replace("//localhost:", "//127.0.0.1:")  # a name is never taken as loopback
    with override_settings(
        HAVEN_BASE_URL=url, HAVEN_FETCH_ALLOW_LOOPBACK=True, HAVEN_FETCH_TIMEOUT_SECONDS=5
    ):
        yield url


@pytest.mark.django_db(transaction=True)
def test_a_trainee_finds_her_pictures_on_the_practice_site_and_gets_them_removed(served: str) -> None:
    org = sandbox.create_sandbox(actor="test", name="Drill", slug="drill", country="KR")
    trainee = create_user(
        actor="test", username="trainee", organisation=org, role=Role.ADMIN, password="a long pass for it"
    )
    platform = Platform.objects.get(organisation=org)
    assert platform.abuse_email == practice.CONTACT
    source = MonitorSource.objects.get(organisation=org)
    assert source.target == f"{served}/practice/s/drill/search/?q=photos"
    run = monitoring.queue_run(actor=trainee, source=source)
    run = monitoring.execute_run(ScanRun.objects.get(pk=run.pk))
    found = Candidate.objects.filter(organisation=org)
    media = set(found.values_list("media_url", flat=True))
    # Every planted forum copy is found, and the mirrored host copies too.
    assert {f"{served}/practice/s/drill/forum/img/{n}.jpg" for n in range(1, 7)} <= media
    assert any("/host/" in m for m in media)
    post = found.get(media_url=f"{served}/practice/s/drill/forum/img/2.jpg")
    sighting = monitoring.confirm(actor=trainee, candidate=post)
    sighting = Sighting.objects.get(pk=sighting.pk)
    assert sighting.platform_id == platform.pk
    notice = takedown.draft_notice(
        actor=trainee,
        sightings=[sighting],
        data=takedown.NoticeInput(regime="policy", good_faith=True, signer="Trainee"),
    )
    takedown.send_notice(actor=trainee, notice=notice)
    reply = SandboxMail.objects.get(organisation=org, kind="reply")
    assert "We removed:" in reply.body
    outcome = takedown.recheck(actor=trainee, sighting=Sighting.objects.get(pk=sighting.pk))
    assert Sighting.objects.get(pk=sighting.pk).state == "removed", outcome


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kind", "says"), [("private", "private"), ("loop", "redirect"), ("slow", "longer than")]
)
def test_the_hostile_pages_get_clear_refusals(
    served: str, kind: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(practice, "SLOW_SECONDS", 3)
    org = sandbox.create_sandbox(actor="test", name="Drill", slug="drill", country="KR")
    trainee = create_user(
        actor="test", username="trainee", organisation=org, role=Role.ADMIN, password="a long pass for it"
    )
    case = org.cases.first()
    assert case is not None
    with override_settings(HAVEN_FETCH_TIMEOUT_SECONDS=1):
        rows = takedown.add_sightings(
            actor=trainee, case=case, urls=[f"{served}/practice/s/drill/hostile/{kind}/"], source="counsellor"
        ).created
        with pytest.raises(ActionError) as refused:
            takedown.capture_evidence(actor=trainee, sighting=rows[0])
    assert says in str(refused.value).lower()


@pytest.mark.django_db(transaction=True)
def test_the_decompression_bomb_is_refused_without_decoding(served: str) -> None:
    from haven.signals import DecompressionBombError, ImageTooLargeError

    data = Client().get("/practice/s/drill/hostile/bomb.png")
    assert data.status_code == 404  # no sandbox yet
    sandbox.create_sandbox(actor="test", name="Drill", slug="drill", country="KR")
    data = Client().get("/practice/s/drill/hostile/bomb.png").content
    assert len(data) < 2_000_000
    with pytest.raises(Image.DecompressionBombError):  # Pillow itself refuses to open it
        Image.open(io.BytesIO(data))
    with pytest.raises((DecompressionBombError, ImageTooLargeError)):
        pdq_hash(data)
    assert ContentItem.objects.exists()
    assert User.objects.exists()


def test_the_slow_page_holds_one_thread_at_most(drill: Organisation) -> None:
    """Asked for many times at once, the slow page answers 429 to all but one: it cannot be used to
    tie up the server and the survivor portal with it."""
    assert practice._SLOW.acquire(blocking=False)  # one request is waiting already
    try:
        answer = Client().get(practice.prefix(drill) + "hostile/slow/")
    finally:
        practice._SLOW.release()
    assert answer.status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        "https://elsewhere.example/practice/s/drill/forum/post/1/",  # another host with our path
        "{site}forum/post/" + "9" * 5000 + "/",  # enormous number
        "{site}forum/post/\u0663/",  # an Arabic-Indic digit
        "{site}forum/post/0/",
        "{site}forum/post/7/",
    ],
)
def test_the_abuse_contact_ignores_what_is_not_its_own(drill: Organisation, body: str) -> None:
    reply = _notice(drill, body.format(site=practice.origin() + practice.prefix(drill)))
    assert "taken no action" in reply.body
    assert not PracticeRemoval.objects.exists()


def test_the_host_accepts_the_file_named_with_a_leading_zero_only_as_its_page(drill: Organisation) -> None:
    site = practice.origin() + practice.prefix(drill)
    reply = _notice(drill, f"{site}host/view/3/", f"{site}host/3.jpg", f"{site}host/03.jpg")
    assert "direct address" not in reply.body
    assert PracticeRemoval.objects.filter(path="host/3.jpg").exists()
