"""Notifications: what makes one, who gets it, the header's badge, reading them, and e-mails that
name no survivor and no case, sent through a real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.notifications import actions, tasks
from haven.web.notifications.models import Kind, Notification
from haven.web.portal import actions as portal_actions
from haven.web.takedown.models import Notice, NoticeState
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Mailbox, Persona

pytestmark = pytest.mark.django_db

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def _portal_case(org: Organisation) -> Case:
    case, _number, _pin = portal_actions.submit_hashes(
        organisation=org, items=[{"pdq": PDQ, "quality": 90}], consents={"monitor": True}
    )
    return case


def test_a_portal_case_tells_everyone_who_may_take_it_and_no_one_elsewhere(
    org_a: Organisation, counsellor: Persona, admin: Persona, officer: Persona, outsider: Persona
) -> None:
    case = _portal_case(org_a)
    told = Notification.objects.filter(kind=Kind.PORTAL_CASE)
    assert set(told.values_list("user__username", flat=True)) == {"counsellor", "admin"}
    assert all(n.case_id == case.pk and n.organisation_id == org_a.pk for n in told)


def test_the_badge_counts_unread_and_opening_one_marks_it_read(
    org_a: Organisation, counsellor: Persona
) -> None:
    case = _portal_case(org_a)
    client = signed_in(counsellor.user)
    page = client.get("/").content.decode()
    assert "data-unread>1<" in page
    listing = client.get("/notifications/").content.decode()
    assert f"A survivor opened case {case.number} in the portal." in listing
    notification = Notification.objects.get(user=counsellor.user)
    response = client.post(f"/notifications/{notification.pk}/open/")
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.number}/"
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert "data-unread" not in client.get("/").content.decode()


def test_mark_all_read_touches_only_her_own(org_a: Organisation, counsellor: Persona, admin: Persona) -> None:
    _portal_case(org_a)
    _portal_case(org_a)
    signed_in(counsellor.user).post("/notifications/read/")
    assert not Notification.objects.filter(user=counsellor.user, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=admin.user, read_at__isnull=True).count() == 2


def test_nobody_opens_another_users_notification(
    org_a: Organisation, counsellor: Persona, colleague: Persona, outsider: Persona
) -> None:
    _portal_case(org_a)
    theirs = Notification.objects.get(user=colleague.user)
    for persona in (counsellor, outsider):
        response = signed_in(persona.user).post(f"/notifications/{theirs.pk}/open/")
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_an_outside_address_in_a_notification_is_not_followed(
    org_a: Organisation, counsellor: Persona
) -> None:
    actions.notify(
        users=[counsellor.user],
        kind=Kind.CANDIDATES,
        key="x",
        organisation=org_a,
        params={"count": 1},
        url="https://evil.example/phish",
    )
    notification = Notification.objects.get()
    response = signed_in(counsellor.user).post(f"/notifications/{notification.pk}/open/")
    assert response["Location"] == "/notifications/"


def test_the_same_thing_notifies_once(org_a: Organisation, counsellor: Persona) -> None:
    for _ in range(3):
        actions.notify(users=[counsellor.user], kind=Kind.CANDIDATES, key="scan_run:1", organisation=org_a)
    assert Notification.objects.count() == 1


def test_a_follow_up_due_notifies_its_assignee_once_per_sweep_run(
    case: Case, counsellor: Persona, colleague: Persona
) -> None:
    today = timezone.localdate()
    case_actions.add_follow_up(
        actor=counsellor.user,
        case=case,
        due_on=today + dt.timedelta(days=2),
        text="call back",
        assignee=colleague.user,
    )
    due = case_actions.add_follow_up(
        actor=counsellor.user, case=case, due_on=today, text="check the forum", assignee=colleague.user
    )
    tasks.sweep.call()
    tasks.sweep.call()
    told = Notification.objects.filter(kind=Kind.FOLLOW_UP_DUE)
    assert [(n.user_id, n.key) for n in told] == [(colleague.user.pk, f"follow_up:{due.pk}")]
    assert "A follow-up on case" in actions.line(told[0])


def _sent_notice(case: Case, counsellor: Persona, deadline: dt.datetime) -> Notice:
    return Notice.objects.create(
        organisation=case.organisation,
        case=case,
        regime="generic",
        language="en",
        recipient="abuse@platform.example",
        subject="Removal request",
        body_encrypted=b"x",
        state=NoticeState.SENT,
        sent_at=timezone.now() - dt.timedelta(days=2),
        deadline_at=deadline,
        created_by=counsellor.user,
        sent_by=counsellor.user,
    )


def test_a_notice_deadline_near_then_passed_notifies_whoever_sent_it(
    case: Case, counsellor: Persona, admin: Persona
) -> None:
    now = timezone.now()
    notice = _sent_notice(case, counsellor, now + dt.timedelta(hours=5))
    _sent_notice(case, counsellor, now + dt.timedelta(days=5))  # not near yet
    tasks.sweep.call()
    assert list(Notification.objects.values_list("kind", "user__username")) == [
        (Kind.DEADLINE_NEAR, "counsellor")
    ]
    Notice.objects.filter(pk=notice.pk).update(deadline_at=now - dt.timedelta(minutes=1))
    tasks.sweep.call()
    passed = Notification.objects.get(kind=Kind.DEADLINE_PASSED)
    assert passed.url == f"/takedown/notices/{notice.pk}/"
    # An acknowledged notice is answered: nothing "passed" about it.
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.ACKNOWLEDGED, deadline_at=now - dt.timedelta(days=1)
    )
    tasks.sweep.call()
    assert Notification.objects.filter(kind=Kind.DEADLINE_PASSED).count() == 1


def test_email_is_off_until_she_turns_it_on_and_the_change_is_audited(
    org_a: Organisation, counsellor: Persona, mailbox: Mailbox
) -> None:
    counsellor.user.email = "counsellor@centre-a.example"
    counsellor.user.save()
    _portal_case(org_a)
    tasks.deliver.call()
    assert mailbox.messages == []
    client = signed_in(counsellor.user)
    client.post("/notifications/email/", {"email": "on"})
    assert AuditEvent.objects.filter(event_type=EventType.NOTIFICATION_EMAIL_CHANGED).get().summary == {
        "email": True
    }
    with override_settings(HAVEN_BASE_URL="https://haven.centre-a.example"):
        case = _portal_case(org_a)
        case_two = _portal_case(org_a)
        assert tasks.deliver.call() == 1
    assert len(mailbox.messages) == 1  # one e-mail for both
    mail = mailbox.messages[0]
    assert mail["To"] == "counsellor@centre-a.example"
    assert mail["Subject"] == "Haven: 2 new notifications"
    body = mail.get_content()
    assert "New case from the survivor portal (2)" in body
    assert "https://haven.centre-a.example/notifications/" in body
    assert case.number not in body
    assert case_two.number not in body
    assert tasks.deliver.call() == 0  # sent once
    client.post("/notifications/email/", {})
    _portal_case(org_a)
    tasks.deliver.call()
    assert len(mailbox.messages) == 1


def test_an_email_that_fails_is_tried_again(
    org_a: Organisation, counsellor: Persona, mailbox: Mailbox
) -> None:
    counsellor.user.email = "counsellor@centre-a.example"
    counsellor.user.save()
    actions.set_email(actor=counsellor.user, email=True)
    with override_settings(EMAIL_PORT=1):  # nothing listens there
        _portal_case(org_a)
        assert tasks.deliver.call() == 0
    assert Notification.objects.get().emailed_at is None
    assert tasks.deliver.call() == 1
    assert len(mailbox.messages) == 1


def test_a_scan_with_matches_tells_the_reviewers(
    org_a: Organisation, reviewer: Persona, counsellor: Persona
) -> None:
    from haven.web.monitoring.actions import reviewers

    assert reviewers(org_a.pk) == [reviewer.user]
    reviewer.user.is_active = False
    reviewer.user.save()
    assert reviewers(org_a.pk) == [counsellor.user]  # no reviewer: whoever else may review


def test_pages_of_notifications_need_a_signed_in_user(db: None) -> None:
    from django.test import Client

    for url in ("/notifications/",):
        response = Client().get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert Client().post("/notifications/read/").status_code == 302


def test_old_news_is_not_raised_at_the_first_sweep(case: Case, counsellor: Persona) -> None:
    """After an upgrade or a long stop, deadlines long passed and follow-ups long due do not bury
    the new ones (they are on the takedown queue and the dashboard already)."""
    now = timezone.now()
    _sent_notice(case, counsellor, now - dt.timedelta(days=8))
    case_actions.add_follow_up(
        actor=counsellor.user,
        case=case,
        due_on=timezone.localdate() - dt.timedelta(days=31),
        text="long ago",
        assignee=counsellor.user,
    )
    Case.objects.filter(pk=case.pk).update(follow_up_on=timezone.localdate() - dt.timedelta(days=40))
    tasks.sweep.call()
    assert not Notification.objects.exists()


def test_notifications_read_long_ago_are_deleted_and_not_raised_again(
    case: Case, counsellor: Persona
) -> None:
    case_actions.add_follow_up(
        actor=counsellor.user,
        case=case,
        due_on=timezone.localdate(),
        text="call back",
        assignee=counsellor.user,
    )
    tasks.sweep.call()
    notification = Notification.objects.get(kind=Kind.FOLLOW_UP_DUE)
    unread = actions.notify(
        users=[counsellor.user], kind=Kind.CANDIDATES, key="scan_run:7", organisation=case.organisation
    )
    assert unread == 1
    Notification.objects.filter(pk=notification.pk).update(read_at=timezone.now() - dt.timedelta(days=91))
    assert actions.prune() == 1
    assert (
        Notification.objects.filter(kind=Kind.CANDIDATES, read_at__isnull=True).count() == 1
    )  # unread stays
    # The follow-up's day is long past by the time a notification is this old: not raised again.
    with freeze_days(100):
        tasks.sweep.call()
    assert not Notification.objects.filter(kind=Kind.FOLLOW_UP_DUE).exists()


def freeze_days(days: int):  # type: ignore[no-untyped-def]
    """The clock moved on by ``days``."""
    from unittest import mock

    later = timezone.now() + dt.timedelta(days=days)
    return mock.patch("django.utils.timezone.now", return_value=later)
