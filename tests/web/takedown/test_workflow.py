"""The state machine, consent, deadlines, replies, escalation, records and who may do what."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.takedown import actions, records
from haven.web.takedown.models import Evidence, Notice, Platform, Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Mailbox, Persona

pytestmark = pytest.mark.usefixtures("loopback")


def _captured(site: TestSite, case: Case, actor: Persona, *paths: str) -> list[Sighting]:
    urls = [site.put(p, f"<html>{p}</html>") for p in paths]
    rows = actions.add_sightings(actor=actor.user, case=case, urls=urls, source="counsellor").created
    for s in rows:
        actions.capture_evidence(actor=actor.user, sighting=s)
    return [Sighting.objects.get(pk=s.pk) for s in rows]


def _draft(officer: Persona, sightings: list[Sighting], regime: str = "policy", **extra: object) -> Notice:
    data = actions.NoticeInput(regime=regime, good_faith=True, signer="Kim Officer", **extra)  # type: ignore[arg-type]
    return actions.draft_notice(actor=officer.user, sightings=sightings, data=data)


def test_no_notice_without_consent_to_takedown(
    site: TestSite, case: Case, platform: Platform, officer: Persona
) -> None:
    rows = _captured(site, case, officer, "/wf/noconsent")
    with pytest.raises(ActionError, match="not consented to takedown"):
        _draft(officer, rows)
    assert Notice.objects.count() == 0


def test_withdrawing_consent_closes_unsent_notices_at_once(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, counsellor: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/withdraw")
    notice = _draft(officer, rows)
    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="takedown", granted=False, method="phone"
    )
    notice.refresh_from_db()
    assert notice.state == "closed"
    assert Sighting.objects.get(pk=rows[0].pk).state == "evidence"
    with pytest.raises(ActionError):
        actions.send_notice(actor=officer.user, notice=notice)
    assert mail.outbox == []


def test_naming_the_survivor_needs_its_own_consent(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, counsellor: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/name")
    with pytest.raises(ActionError, match="being named"):
        _draft(officer, rows, survivor_name="Lee Survivor")
    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="identify", granted=True, method="written"
    )
    notice = _draft(officer, rows, survivor_name="Lee Survivor")
    assert "Lee Survivor" in actions.notice_body(notice)
    assert b"Lee Survivor" not in bytes(notice.body_encrypted)  # stored encrypted


def test_key_rotation_rewrites_notice_bodies_under_the_new_key(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, counsellor: Persona
) -> None:
    import base64

    from django.conf import settings
    from django.test import override_settings

    from haven.web.audit.models import AuditEvent, EventType
    from haven.web.core import crypto
    from haven.web.core.tasks import reencrypt_with_current_key

    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="identify", granted=True, method="written"
    )
    notice = _draft(
        officer, _captured(site, consenting_case, officer, "/wf/rotate"), survivor_name="Lee Survivor"
    )
    body = actions.notice_body(notice)
    new = base64.urlsafe_b64encode(b"N" * 32).decode()
    with override_settings(HAVEN_ENCRYPTION_KEYS=[new, *settings.HAVEN_ENCRYPTION_KEYS]):
        assert not crypto.is_current(Notice.objects.get(pk=notice.pk).body_encrypted)
        reencrypt_with_current_key.call()
        stored = Notice.objects.get(pk=notice.pk)
        assert crypto.is_current(stored.body_encrypted)
        event = AuditEvent.objects.filter(event_type=EventType.KEYS_ROTATED).get()
        assert event.summary["notices"] == 1
        assert reencrypt_with_current_key.call() == 0  # nothing left under the old key
    with override_settings(HAVEN_ENCRYPTION_KEYS=[new]):  # the old key can go
        assert actions.notice_body(stored) == body


def test_one_notice_per_platform_and_case(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, admin: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/p1")
    other = actions.add_sightings(
        actor=officer.user, case=consenting_case, urls=["https://elsewhere.example/x"], source="counsellor"
    ).created
    with pytest.raises(ActionError, match="one platform"):
        _draft(officer, rows + other)
    with pytest.raises(ActionError, match="Fill in the platform"):
        _draft(officer, other)
    uncaptured = actions.add_sightings(
        actor=officer.user, case=consenting_case, urls=[site.url("/wf/p2")], source="counsellor"
    ).created
    with pytest.raises(ActionError, match="Capture evidence first"):
        _draft(officer, rows + uncaptured)
    assert other[0].platform is None
    # Filling in the unknown platform links the waiting sighting to it.
    actions.save_platform(
        actor=admin.user,
        data=actions.PlatformInput(name="Elsewhere", domains=["*.elsewhere.example", "elsewhere.example"]),
    )
    assert Sighting.objects.get(pk=other[0].pk).platform.name == "Elsewhere"  # type: ignore[union-attr]


def test_take_it_down_gives_the_platform_48_hours_then_the_sighting_is_unanswered(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/tid1", "/wf/tid2")
    notice = _draft(officer, rows, regime="take_it_down")
    notice = actions.send_notice(actor=officer.user, notice=notice)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][2] == "application/pdf"
    assert notice.deadline_at is not None
    assert notice.sent_at is not None
    assert notice.deadline_at - notice.sent_at == dt.timedelta(hours=48)
    assert actions.mark_overdue(now=timezone.now() + dt.timedelta(hours=47)) == 0
    assert actions.mark_overdue(now=timezone.now() + dt.timedelta(hours=49)) == 2
    assert {s.state for s in Sighting.objects.filter(pk__in=[r.pk for r in rows])} == {"no_response"}
    # Escalation, then a new notice to the hosting provider.
    actions.escalate(actor=officer.user, sightings=rows, target="hosting", note="host is Example Hosting")
    fresh = list(Sighting.objects.filter(pk__in=[r.pk for r in rows]))
    assert {s.state for s in fresh} == {"escalated"}
    second = _draft(officer, fresh, recipient="abuse@host.example", escalation_of=notice)
    assert second.recipient == "abuse@host.example"
    assert records.notice_record(second)["type"] == "escalation"


def test_web_form_replies_and_the_lumen_record(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/r1", "/wf/r2")
    notice = _draft(officer, rows)
    with pytest.raises(ActionError, match="reference"):
        actions.record_web_form(actor=officer.user, notice=notice, reference="  ")
    notice = actions.record_web_form(actor=officer.user, notice=notice, reference="TICKET-1234")
    assert notice.sent_via == "web_form"
    assert mail.outbox == []
    with pytest.raises(ActionError, match="already been sent"):
        actions.send_notice(actor=officer.user, notice=notice)
    actions.log_reply(
        actor=officer.user, notice=notice, outcome="acknowledged", text="We are looking into it."
    )
    assert {s.state for s in notice.sightings.all()} == {"acknowledged"}
    # The platform removes one of the two: a partial action.
    site.put("/wf/r1", "gone", status=404)
    actions.recheck(actor=officer.user, sighting=rows[0])
    actions.log_reply(actor=officer.user, notice=notice, outcome="refused", text="Not against our rules.")
    notice.refresh_from_db()
    assert notice.state == "closed"
    assert notice.action_taken == "partial"
    record = records.notice_record(notice)
    assert record["urls_removed"] == [rows[0].url]
    assert record["platform_reference"] == "TICKET-1234"
    assert record["case"] == consenting_case.number
    figures = records.platform_figures(consenting_case.organisation_id, timezone.now())
    assert [(f.platform, f.urls, f.removed) for f in figures] == [("Local Test Platform", 2, 1)]


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    rows = [
        {
            "id": 1,
            "type": "takedown",
            "platform": '=HYPERLINK("http://evil")',
            "urls": ["https://a.example/"],
            "urls_removed": [],
        }
    ]
    parsed = list(csv.DictReader(io.StringIO(records.as_csv(rows))))
    assert parsed[0]["platform"].startswith("'=")


def test_a_future_reply_is_refused(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    notice = actions.record_web_form(
        actor=officer.user,
        notice=_draft(officer, _captured(site, consenting_case, officer, "/wf/f")),
        reference="T",
    )
    with pytest.raises(ActionError, match="future"):
        actions.log_reply(
            actor=officer.user,
            notice=notice,
            outcome="removed",
            received_at=timezone.now() + dt.timedelta(days=1),
        )


def test_other_organisations_and_other_roles_see_nothing(
    site: TestSite,
    consenting_case: Case,
    platform: Platform,
    officer: Persona,
    outsider: Persona,
    analyst: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    rows = _captured(site, consenting_case, officer, "/wf/x")
    notice = _draft(officer, rows)
    sid, nid = rows[0].pk, notice.pk
    for persona in (outsider, analyst):
        api = persona.api()
        assert api.get(f"/api/v1/sightings/{sid}").status_code in (403, 404)
        assert api.get(f"/api/v1/notices/{nid}").status_code in (403, 404)
        assert api.post(f"/api/v1/notices/{nid}/send").status_code in (403, 404)
        assert api.post(f"/api/v1/sightings/{sid}/capture").status_code in (403, 404)
        assert api.get("/api/v1/sightings").json() in (
            [],
            {"detail": "You do not have permission to do this."},
        )
        web = client_of(persona)
        assert web.get(f"/takedown/sightings/{sid}/").status_code in (403, 404)
        assert web.get(f"/takedown/notices/{nid}/").status_code in (403, 404)
        assert web.get(f"/takedown/notices/{nid}/pdf/").status_code in (403, 404)
    assert outsider.api().get("/api/v1/notices/records").json() == []
    r = outsider.api().post(
        "/api/v1/notices",
        {"sightings": [sid], "regime": "policy", "good_faith": True},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert "no such sightings" in r.json()["detail"]
    assert Notice.objects.count() == 1
    assert not Evidence.objects.filter(captured_by=outsider.user).exists()


def test_an_officer_works_a_list_of_urls_to_removed_in_the_ui(
    site: TestSite,
    consenting_case: Case,
    platform: Platform,
    officer: Persona,
    client_of: Callable[[Persona], Client],
    django_capture_on_commit_callbacks: object,
) -> None:
    web = client_of(officer)
    paths = [f"/ui/post/{n}" for n in range(3)]
    urls = "\n".join(site.put(p, f"<html>{p}</html>") for p in paths)
    r = web.post(
        f"/cases/{consenting_case.number}/sightings/",
        {"urls": urls + "\n# a comment\n", "source": "survivor"},
    )
    assert r.status_code == 302
    ids = list(Sighting.objects.filter(case=consenting_case).values_list("pk", flat=True))
    assert len(ids) == 3
    page = web.get("/takedown/")
    assert page.status_code == 200
    assert site.url(paths[0]).encode() in page.content
    r = web.post("/takedown/bulk/", {"action": "capture", "sighting": ids})
    assert r.status_code == 302
    assert set(Sighting.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"evidence"}
    r = web.post("/takedown/bulk/", {"action": "notice", "sighting": ids})
    assert r.status_code == 302
    form = web.get(r["Location"])
    assert form.status_code == 200
    r = web.post(
        "/takedown/notices/new/",
        {
            "s": ids,
            "regime": "dsa",
            "language": "ko",
            "signer": "Kim Officer",
            "notifier_email": "takedown@centre-a.example",
            "explanation": "동의 없이 게시됨",
            "good_faith": "on",
        },
    )
    assert r.status_code == 302, r.content
    notice = Notice.objects.get()
    assert notice.language == "ko"
    detail = web.get(r["Location"])
    assert "디지털서비스법".encode() in detail.content
    pdf = web.get(f"/takedown/notices/{notice.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        web.post(f"/takedown/notices/{notice.pk}/act/", {"action": "send"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["abuse@platform.test"]
    for p in paths:
        site.put(p, "removed", status=410)
    web.post("/takedown/bulk/", {"action": "recheck", "sighting": ids})
    assert set(Sighting.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"removed"}
    timeline = web.get(f"/takedown/sightings/{ids[0]}/")
    assert timeline.status_code == 200
    for label in (b"Found", b"Evidence captured", b"Notice ready", b"Sent", b"Removed"):
        assert label in timeline.content
    export = web.get("/takedown/notices/export.json")
    assert json.loads(export.content)[0]["action_taken"] == "yes"
    assert web.get("/takedown/notices/export.csv").status_code == 200
    assert web.get("/takedown/notices/export.xml").status_code == 404
    assert b"Local Test Platform" in web.get("/takedown/notices/").content


# The worker closes its database connection after its jobs, as in production; on PostgreSQL that
# would end a test wrapped in one transaction, so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_queued_recheck_and_the_sweep(
    site: TestSite,
    consenting_case: Case,
    platform: Platform,
    officer: Persona,
    django_capture_on_commit_callbacks: Callable[..., object],
) -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    rows = _captured(site, consenting_case, officer, "/wf/worker")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        actions.send_notice(actor=officer.user, notice=_draft(officer, rows))
    job = DBTaskResult.objects.get(task_path__endswith="recheck_sighting")
    site.put("/wf/worker", "gone", status=404)
    # Not due for an hour: the worker leaves it.
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    assert Sighting.objects.get(pk=rows[0].pk).state == "sent"
    # Due now (as an hour later): the worker rechecks and the sighting is removed.
    DBTaskResult.objects.filter(pk=job.pk).update(run_after=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[attr-defined]
        call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "*", verbosity=0)
    sighting = Sighting.objects.get(pk=rows[0].pk)
    assert sighting.state == "removed"
    assert sighting.checks_done == 1
    # A stale job for a time that was rescheduled since does nothing.
    from haven.web.takedown.tasks import recheck_sighting

    assert recheck_sighting.call(sighting.pk, "2000-01-01T00:00:00+00:00") in ("rescheduled", "gone")
    # The sweep marks overdue sightings and queues the next sweep once.
    from haven.web.takedown.tasks import sweep

    sweep.call()
    sweep.call()
    assert DBTaskResult.objects.filter(task_path__endswith="tasks.sweep", status="READY").count() == 1


def test_a_mail_server_that_is_down_sends_nothing_changes_nothing_and_the_next_try_sends_once(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, mailbox: Mailbox
) -> None:
    from django.test import override_settings

    from haven.web.audit.models import AuditEvent, EventType
    from tests.processes import free_port

    rows = _captured(site, consenting_case, officer, "/wf/smtp1", "/wf/smtp2")
    notice = _draft(officer, rows)
    with override_settings(EMAIL_PORT=free_port()), pytest.raises(ActionError, match="mail server refused"):
        actions.send_notice(actor=officer.user, notice=notice)  # nothing listens on that port
    notice.refresh_from_db()
    assert notice.state == "ready"
    assert notice.sent_at is None
    assert {s.state for s in Sighting.objects.filter(pk__in=[r.pk for r in rows])} == {"notice_ready"}
    assert not AuditEvent.objects.filter(event_type=EventType.NOTICE_SENT).exists()
    assert mailbox.messages == []
    # The mail server is back: the officer sends again, and the platform gets one e-mail.
    actions.send_notice(actor=officer.user, notice=notice)
    assert len(mailbox.messages) == 1
    assert AuditEvent.objects.filter(event_type=EventType.NOTICE_SENT).count() == 1
    with pytest.raises(ActionError, match="already been sent"):
        actions.send_notice(actor=officer.user, notice=notice)
    assert len(mailbox.messages) == 1
