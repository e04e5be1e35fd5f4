"""A training sandbox's mail stops in its mailbox: a trainee's notice goes through every step of a
real one (evidence, PDF, deadline, audit) except SMTP, and so do notification e-mails; a real
centre's mail still leaves by SMTP."""

from __future__ import annotations

import pytest
from django.urls import reverse

from haven.signals import pdq_hash
from haven.web.accounts.actions import create_user
from haven.web.accounts.models import User
from haven.web.accounts.roles import Role
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.notifications import actions as notifications
from haven.web.notifications.models import Kind
from haven.web.takedown import actions
from haven.web.training.models import SandboxMail
from haven.web.training.practice import CONTACT
from haven.web.training.sandbox import create_sandbox
from tests.scan.site import TestSite
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Mailbox

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback")]


def _officer() -> User:
    org = create_sandbox(actor="test", name="Practice Centre", slug="practice", country="KR")
    return create_user(
        actor="test",
        username="trainee",
        organisation=org,
        role=Role.ADMIN,
        password="a long pass for it",
    )


def test_a_trainee_notice_is_kept_in_the_mailbox_not_sent(
    site: TestSite, mailbox: Mailbox, photo: object
) -> None:
    trainee = _officer()
    case = case_actions.create_case(actor=trainee, contact="(synthetic)")
    case_actions.record_consent(actor=trainee, case=case, scope="takedown", granted=True, method="in_person")
    found = pdq_hash(photo)  # type: ignore[arg-type]
    case_actions.add_content(
        actor=trainee,
        case=case,
        items=[case_actions.HashInput(label="p", pdq=str(found.hash), quality=found.quality)],
    )
    url = site.put("/sandbox/post/1", "<html>post</html>")
    rows = actions.add_sightings(actor=trainee, case=case, urls=[url], source="counsellor").created
    actions.capture_evidence(actor=trainee, sighting=rows[0])
    notice = actions.draft_notice(
        actor=trainee,
        sightings=[actions.Sighting.objects.get(pk=rows[0].pk)],
        data=actions.NoticeInput(regime="policy", good_faith=True, signer="Trainee"),
    )
    notice = actions.send_notice(actor=trainee, notice=notice)

    assert mailbox.messages == []  # nothing reached the SMTP server
    kept = SandboxMail.objects.get(kind="notice")
    # The sandbox's practice platform (seeded, on this host) answers: the page is not on its sites.
    assert kept.recipients == CONTACT
    reply = SandboxMail.objects.get(kind="reply")
    assert "taken no action" in reply.body
    assert kept.subject == notice.subject
    assert url in kept.body
    assert kept.attachments == [f"notice-{notice.pk}.pdf"]
    assert kept.message_id == notice.message_id
    # Everything else happened as for a real notice.
    assert notice.state == "sent"
    assert notice.deadline_at is not None
    assert AuditEvent.objects.filter(
        event_type=EventType.NOTICE_SENT, organisation=trainee.organisation
    ).exists()
    page = signed_in(trainee).get(reverse("training:mailbox")).content.decode()
    assert notice.subject in page


def test_a_sandbox_notification_email_stops_in_the_mailbox_and_a_real_one_is_sent(
    mailbox: Mailbox, org_a: object, counsellor: object
) -> None:
    trainee = _officer()
    real = counsellor.user  # type: ignore[attr-defined]
    for user in (trainee, real):
        user.email = f"{user.username}@centre.example"
        user.save()
        notifications.set_email(actor=user, email=True)
        notifications.notify(
            users=[user], kind=Kind.FOLLOW_UP_DUE, key="follow_up:1", organisation=user.organisation
        )
    assert notifications.deliver_emails() == 2
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["To"] == "counsellor@centre.example"
    kept = SandboxMail.objects.get()
    assert kept.kind == "notification"
    assert kept.recipients == "trainee@centre.example"
