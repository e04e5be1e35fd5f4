"""Guided exercises: a trainee does each task in a sandbox for real (cases, hashes, a monitoring
scan of a local site, notices under two regimes, an escalation, a withdrawal), each check names
what is still missing until it is done, the trainer sees everyone's progress, and a trainee who
finished gets a certificate."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from haven.signals import pdq_hash
from haven.web.accounts.actions import create_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.core.errors import ActionError
from haven.web.monitoring import actions as monitoring
from haven.web.monitoring.models import Candidate, ScanRun
from haven.web.takedown import actions as takedown
from haven.web.takedown.models import Sighting
from haven.web.training import sandbox
from haven.web.training.actions import check_exercise
from haven.web.training.exercises import EXERCISES
from haven.web.training.models import ExerciseResult
from tests.scan.site import TestSite
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

from .conftest import jpeg

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]


@pytest.fixture
def practice(db: None) -> Organisation:
    return sandbox.create_sandbox(actor="test", name="Practice Centre", slug="practice", country="KR")


def _user(org: Organisation, name: str, role: str) -> User:
    return create_user(
        actor="test", username=name, organisation=org, role=role, password="a long pass for it"
    )


@pytest.fixture
def trainee(practice: Organisation) -> User:
    return _user(practice, "trainee", Role.COUNSELLOR)


@pytest.fixture
def trainer(practice: Organisation) -> User:
    return _user(practice, "trainer", Role.ADMIN)


def _missing(user: User, code: str) -> list[str]:
    return list(check_exercise(actor=user, code=code).missed)


def _forum(site: TestSite, photo: Image.Image, prefix: str) -> str:
    """A forum page with a re-encoded copy of her photo and one with an unrelated picture."""
    import numpy as np

    noise = np.random.default_rng(5).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    other = Image.fromarray(noise).resize((512, 384), Image.Resampling.BICUBIC)
    site.put(f"{prefix}/a.jpg", jpeg(photo.resize((photo.width // 2, photo.height // 2)), 75), "image/jpeg")
    site.put(f"{prefix}/b.jpg", jpeg(other), "image/jpeg")
    site.put(f"{prefix}/1", f'<html><img src="{prefix}/a.jpg"></html>')
    site.put(f"{prefix}/2", f'<html><img src="{prefix}/b.jpg"></html>')
    return site.put(f"{prefix}/", f'<html><a href="{prefix}/1">1</a> <a href="{prefix}/2">2</a></html>')


def test_a_trainee_works_through_every_exercise_and_gets_a_certificate(
    site: TestSite, photo: Image.Image, trainee: User, trainer: User
) -> None:
    assert all(_missing(trainee, e.code) for e in EXERCISES)  # nothing done yet: each names a step

    # Intake: each step appears in the check until it is done.
    case = case_actions.create_case(actor=trainee, contact="(synthetic) caller")
    assert len(_missing(trainee, "intake")) == 3
    for scope in ("monitor", "takedown"):
        case_actions.record_consent(actor=trainee, case=case, scope=scope, granted=True, method="phone")
    case = case_actions.update_case(actor=trainee, case=case, risk_level="medium")
    assert _missing(trainee, "intake") == ["Write a safety plan with her."]
    case_actions.set_safety_plan(actor=trainee, case=case, text="Change passwords; tell a friend.")
    assert _missing(trainee, "intake") == []

    # Hashing with her.
    found = pdq_hash(photo)
    case_actions.add_content(
        actor=trainee,
        case=case,
        items=[case_actions.HashInput(label="photo", pdq=str(found.hash), quality=found.quality)],
    )
    assert _missing(trainee, "hashing") == []

    # Monitoring review: the trainer sets up a real scan of a local forum; the trainee confirms
    # one match and rejects one.
    source = monitoring.save_source(
        actor=trainer,
        data=monitoring.SourceInput(name="Forum", kind="crawl", target=_forum(site, photo, "/ex"), depth=1),
    )
    run = monitoring.queue_run(actor=trainer, source=source)
    monitoring.execute_run(ScanRun.objects.get(pk=run.pk))
    found_here = list(Candidate.objects.filter(organisation=trainee.organisation, state="pending"))
    assert found_here
    sighting = monitoring.confirm(actor=trainee, candidate=found_here[0], capture=False)
    assert _missing(trainee, "review") == ["Reject a monitoring match that is not her picture."]
    # A second (unrelated) picture, as a reviewer meets one: the seeded practice cases' pictures.
    other_case = case_actions.create_case(actor=trainee, contact="(synthetic)")
    case_actions.record_consent(actor=trainee, case=other_case, scope="monitor", granted=True, method="phone")
    other = Image.open(io.BytesIO(site_bytes(site, "/ex/b.jpg")))
    wrong = pdq_hash(other)
    case_actions.add_content(
        actor=trainee,
        case=other_case,
        items=[case_actions.HashInput(label="x", pdq=str(wrong.hash), quality=wrong.quality)],
    )
    run = monitoring.queue_run(actor=trainer, source=source)
    monitoring.execute_run(ScanRun.objects.get(pk=run.pk))
    pending = Candidate.objects.filter(organisation=trainee.organisation, state="pending").first()
    assert pending is not None
    monitoring.reject(actor=trainee, candidate=pending)
    assert _missing(trainee, "review") == []

    # Evidence and notices under two regimes; the platform refuses; escalation.
    # The sandbox's practice platform (seeded) covers the local test site's host too.
    takedown.capture_evidence(actor=trainee, sighting=sighting)
    sighting = Sighting.objects.get(pk=sighting.pk)
    assert "two different legal regimes (0 so far)" in _missing(trainee, "notices")[0]
    first = takedown.draft_notice(
        actor=trainee,
        sightings=[sighting],
        data=takedown.NoticeInput(regime="policy", good_faith=True, signer="Trainee"),
    )
    first = takedown.send_notice(actor=trainee, notice=first)
    takedown.log_reply(actor=trainee, notice=first, outcome="refused", text="Not against our rules.")
    assert _missing(trainee, "escalation")
    takedown.escalate(actor=trainee, sightings=[Sighting.objects.get(pk=sighting.pk)], target="regulator")
    assert _missing(trainee, "escalation") == []
    second = takedown.draft_notice(
        actor=trainee,
        sightings=[Sighting.objects.get(pk=sighting.pk)],
        data=takedown.NoticeInput(
            regime="kr_deletion", good_faith=True, signer="Trainee", notifier_phone="02-000-0000"
        ),
    )
    takedown.send_notice(actor=trainee, notice=second)
    assert _missing(trainee, "notices") == []

    # Withdrawal: her hashes stop matching at once.
    case_actions.record_consent(actor=trainee, case=case, scope="monitor", granted=False, method="phone")
    assert _missing(trainee, "withdrawal") == []

    assert ExerciseResult.objects.filter(user=trainee, completed_at__isnull=False).count() == len(EXERCISES)
    assert AuditEvent.objects.filter(event_type=EventType.EXERCISE_COMPLETED, actor=trainee).count() == len(
        EXERCISES
    )

    # The trainee's page, the trainer's view and the certificate.
    mine = signed_in(trainee)
    page = mine.get(reverse("training:exercises")).content.decode()
    assert page.count("Done</span>") == len(EXERCISES)
    pdf = mine.get(reverse("training:certificate"))
    assert pdf.status_code == 200
    text = re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text())
    assert "trainee completed every guided exercise" in text
    assert "Practice Centre" in text
    assert "Escalation when a platform refuses" in text
    view = signed_in(trainer).get(reverse("training:trainees")).content.decode()
    assert reverse("training:trainee_certificate", args=[trainee.pk]) in view
    assert "practice.synthetic" not in view
    assert (
        signed_in(trainer).get(reverse("training:trainee_certificate", args=[trainee.pk])).status_code == 200
    )

    # A reset wipes the practice data, not the trainee's record.
    sandbox.reset(actor="test", organisation=trainee.organisation)  # type: ignore[arg-type]
    assert ExerciseResult.objects.filter(user=trainee, completed_at__isnull=False).count() == len(EXERCISES)


def site_bytes(site: TestSite, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(site.url(path)) as answer:  # noqa: S310 - the local test site
        return bytes(answer.read())


def test_exercises_are_done_in_a_sandbox_only(counsellor: Persona) -> None:
    with pytest.raises(ActionError, match="training sandbox"):
        check_exercise(actor=counsellor.user, code="intake")
    client = signed_in(counsellor.user)
    for name in ("exercises", "mailbox", "certificate"):
        assert client.get(reverse(f"training:{name}")).status_code == 404
    assert client.post(reverse("training:check", args=["intake"])).status_code == 404
    assert not ExerciseResult.objects.exists()


def test_an_unknown_exercise_is_refused(trainee: User) -> None:
    with pytest.raises(ActionError, match="Unknown exercise"):
        check_exercise(actor=trainee, code="no-such")
    assert not ExerciseResult.objects.exists()


def test_only_a_sandbox_trainer_sees_the_trainees_and_their_certificates(
    trainee: User, trainer: User, practice: Organisation
) -> None:
    other = _user(practice, "other", Role.COUNSELLOR)
    assert signed_in(trainee).get(reverse("training:trainees")).status_code == 403
    # A trainee cannot fetch another's certificate, and nobody gets one before finishing.
    assert signed_in(trainee).get(reverse("training:trainee_certificate", args=[other.pk])).status_code == 404
    assert signed_in(trainer).get(reverse("training:trainee_certificate", args=[other.pk])).status_code == 404
    assert signed_in(trainee).get(reverse("training:certificate")).status_code == 404
    page = signed_in(trainer).get(reverse("training:trainees")).content.decode()
    assert '<th scope="row">trainee</th>' in page
    assert '<th scope="row">other</th>' in page


def test_a_trainer_of_another_sandbox_sees_none_of_ours(trainee: User) -> None:
    elsewhere = sandbox.create_sandbox(
        actor="test", name="Other Practice", slug="other-practice", country="DE"
    )
    stranger = _user(elsewhere, "stranger", Role.ADMIN)
    page = signed_in(stranger).get(reverse("training:trainees")).content.decode()
    assert reverse("training:trainee_certificate", args=[trainee.pk]) not in page
    assert '<th scope="row">trainee</th>' not in page
    assert '<th scope="row">stranger</th>' in page
    answer = signed_in(stranger).get(reverse("training:trainee_certificate", args=[trainee.pk]))
    assert answer.status_code == 404


def test_the_exercise_page_names_what_is_missing(trainee: User) -> None:
    client: Client = signed_in(trainee)
    response = client.post(reverse("training:check", args=["hashing"]))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Not done yet" in page
    assert "Hash a picture on a case" in page
