"""Personal information: identifiers recorded with consent, found by their text on a local site
without the scanner seeing them, reviewed masked, confirmed, and rechecked until the text is gone."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable

import pytest
from django.test import Client

from haven.web.audit.models import AuditEvent
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.monitoring import actions
from haven.web.monitoring.bank import text_work
from haven.web.monitoring.models import Identifier, ScanRun, TextCandidate
from haven.web.takedown import actions as takedown
from haven.web.takedown.models import Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Mailbox, Persona

pytestmark = pytest.mark.usefixtures("loopback")

NAME, SCHOOL, PHONE = "김지은", "한빛고등학교", "010-2468-1357"


@pytest.fixture
def monitored(consenting_case: Case, counsellor: Persona) -> Case:
    case_actions.record_consent(
        actor=counsellor.user, case=consenting_case, scope="monitor", granted=True, method="in_person"
    )
    return consenting_case


@pytest.fixture
def identified(monitored: Case, counsellor: Persona) -> Case:
    for kind, value in (("name", NAME), ("place", f"{SCHOOL}\n한빛고"), ("phone", PHONE)):
        actions.add_identifier(
            actor=counsellor.user, case=monitored, data=actions.IdentifierInput(kind=kind, value=value)
        )
    return monitored


def _forum(site: TestSite, prefix: str) -> str:
    site.put(
        f"{prefix}/post/1",
        "<html><body><h1>신상</h1><p>김 지은이 한빛고 다님. 번호 010 2468 1357</p></body></html>",
    )
    site.put(f"{prefix}/post/2", "<html><body><p>김지은 생일 축하해</p></body></html>")  # a name alone
    site.put(f"{prefix}/post/3", "<html><body><p>김지현 한빛고등학교 졸업</p></body></html>")  # a decoy
    links = "".join(f'<a href="{prefix}/post/{n}">{n}</a>' for n in (1, 2, 3))
    return site.put(f"{prefix}/", f"<html><body>{links}</body></html>")


def _run(officer: Persona, start: str, kind: str = "crawl") -> ScanRun:
    source = actions.save_source(
        actor=officer.user, data=actions.SourceInput(name="Forum", kind=kind, target=start, depth=1)
    )
    run = actions.queue_run(actor=officer.user, source=source)
    return actions.execute_run(ScanRun.objects.get(pk=run.pk))


def test_identifiers_are_stored_encrypted_and_audited_by_kind_only(identified: Case) -> None:
    rows = list(Identifier.objects.filter(case=identified))
    assert [r.kind for r in rows] == ["name", "place", "phone"]
    for row in rows:
        assert NAME.encode() not in bytes(row.value_encrypted)
        assert b"2468" not in bytes(row.value_encrypted)
    events = AuditEvent.objects.filter(event_type="identifier.added")
    assert events.count() == 3
    for event in events:
        assert NAME not in str(event.summary)
        assert "2468" not in str(event.summary)


def test_what_a_scan_receives_holds_no_identifier(identified: Case) -> None:
    work = text_work(identified.organisation_id)
    assert work.bank is not None
    assert len(work.bank) == 3
    # The keys and hashes are hex; what is left around them must hold none of her words or digits.
    shipped = re.sub(rb"[0-9a-f]{32,64}", b"", pickle.dumps(work.bank))
    for secret in (NAME, SCHOOL, "한빛", "2468", "1357", "jieun"):
        assert secret.encode() not in shipped
    assert text_work(identified.organisation_id).bank.key != work.bank.key  # a new key every run


def test_a_run_finds_her_information_and_not_the_decoys(
    site: TestSite, identified: Case, officer: Persona
) -> None:
    run = _run(officer, _forum(site, "/pi1"))
    assert run.status == "done", run.failure
    assert run.stats["text_pages"] == 4
    (found,) = TextCandidate.objects.all()
    assert found.case == identified
    assert found.page_url.endswith("/pi1/post/1")
    assert sorted(found.kinds) == ["name", "phone", "place"]
    assert NAME.encode() not in bytes(found.snippet_encrypted)
    assert run.candidates == 1
    assert _run(officer, _forum(site, "/pi1")).candidates == 0  # the same page and text: not again


def test_review_masks_her_identifiers_until_shown_and_confirming_makes_a_personal_info_sighting(
    site: TestSite,
    identified: Case,
    officer: Persona,
    reviewer: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    _run(officer, _forum(site, "/pi2"))
    found = TextCandidate.objects.get()
    web = client_of(reviewer)
    page = web.get("/monitoring/")
    body = page.content.decode()
    assert "●●●" in body
    assert NAME not in body
    assert "2468" not in body
    assert "한빛고" not in body
    assert AuditEvent.objects.filter(event_type="text_candidate.viewed").count() == 0
    # With the picture matches of her case, and marked where both are on the same page.
    assert body.index(identified.number) < body.index("data-snippet")
    shown = web.get(f"/monitoring/?reveal={found.pk}").content.decode()
    assert "김 지은" in shown
    assert "010 2468 1357" in shown
    assert AuditEvent.objects.filter(event_type="text_candidate.viewed").count() == 1
    r = web.post(f"/monitoring/text/{found.pk}/decide/", {"decision": "confirm"})
    assert r.status_code == 302
    found.refresh_from_db()
    assert found.state == "confirmed"
    sighting = Sighting.objects.get(case=identified)
    assert sighting.personal_info
    assert sighting.url.endswith("/pi2/post/1")
    assert found.sighting == sighting
    # Decided once only.
    r = web.post(f"/monitoring/text/{found.pk}/decide/", {"decision": "reject"})
    assert TextCandidate.objects.get().state == "confirmed"


def test_a_rechecked_page_counts_as_removed_when_her_information_is_gone(
    site: TestSite, identified: Case, officer: Persona, reviewer: Persona
) -> None:
    _run(officer, _forum(site, "/pi3"))
    sighting = actions.confirm_text(actor=reviewer.user, candidate=TextCandidate.objects.get(), capture=False)
    still = takedown.recheck(actor="worker", sighting=sighting)
    assert not still.gone
    site.put("/pi3/post/1", "<html><body><h1>신상</h1><p>이 글은 작성자가 수정했습니다.</p></body></html>")
    gone = takedown.recheck(actor="worker", sighting=Sighting.objects.get(pk=sighting.pk))
    assert gone.gone
    assert "no longer on the page" in gone.reason
    assert Sighting.objects.get(pk=sighting.pk).state == "removed"


def test_an_officer_sends_a_personal_information_notice_and_the_recheck_sees_the_text_go(
    site: TestSite, identified: Case, officer: Persona, reviewer: Persona, platform: object, mailbox: Mailbox
) -> None:
    _run(officer, _forum(site, "/pi4"))
    confirmed = actions.confirm_text(actor=reviewer.user, candidate=TextCandidate.objects.get())
    sighting = Sighting.objects.get(pk=confirmed.pk)
    assert sighting.state == "evidence"  # captured on confirming
    notice = takedown.draft_notice(
        actor=officer.user,
        sightings=[sighting],
        data=takedown.NoticeInput(
            regime="kr_privacy",
            language="ko",
            signer="Officer Kim",
            explanation="동의 없이 게시된 신상 정보입니다.",
            personal_information="피해자의 이름, 학교, 휴대전화 번호",
            data_subject_authorised=True,
            good_faith=True,
            accurate=True,
            notifier_phone="02-000-0000",
        ),
    )
    body = takedown.notice_body(notice)
    assert sighting.url in body
    assert "휴대전화 번호" in body
    assert "2468" not in body  # described, not repeated
    # The platform takes the text down when the notice arrives; the recheck sees it gone.
    mailbox.on_message = lambda message: site.put("/pi4/post/1", "<p>삭제된 게시물입니다</p>")
    takedown.send_notice(actor=officer.user, notice=notice)
    assert len(mailbox.messages) == 1
    text = mailbox.messages[0].get_body(preferencelist=("plain",))
    assert text is not None
    assert "휴대전화 번호" in text.get_content()
    assert "2468" not in text.get_content()
    outcome = takedown.recheck(actor="worker", sighting=Sighting.objects.get(pk=sighting.pk))
    assert outcome.gone
    assert Sighting.objects.get(pk=sighting.pk).state == "removed"


def test_withdrawing_monitoring_consent_deletes_her_identifiers_and_waiting_pages(
    site: TestSite, identified: Case, officer: Persona, counsellor: Persona, reviewer: Persona
) -> None:
    _run(officer, _forum(site, "/pi5"))
    site.put("/pi5/post/4", "<p>김지은 한빛고 또 올라옴</p>")
    _run(officer, site.url("/pi5/post/4"), kind="urls")
    first, _second = TextCandidate.objects.order_by("pk")
    actions.reject_text(actor=reviewer.user, candidate=first)
    case_actions.record_consent(
        actor=counsellor.user, case=identified, scope="monitor", granted=False, method="phone"
    )
    assert Identifier.objects.count() == 0
    assert list(TextCandidate.objects.all()) == [first]  # the reviewed one, as a record of the decision
    assert actions.snippet_of(TextCandidate.objects.get()).text == ""
    assert text_work(identified.organisation_id).bank is None


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("phone", "12", "not a phone number"),
        ("email", "nobody at all", "not an e-mail address"),
        ("name", "!!!", "letters or digits"),
        ("name", "\x00", "NUL"),
        ("name", "   ", "Write the identifier"),
        ("name", "\n".join(f"n{i}" for i in range(11)), "At most 10 spellings"),
        ("shoe", "38", "Unknown kind"),
    ],
)
def test_bad_identifiers_are_refused_and_change_nothing(
    monitored: Case, counsellor: Persona, kind: str, value: str, message: str
) -> None:
    with pytest.raises(ActionError, match=message):
        actions.add_identifier(
            actor=counsellor.user, case=monitored, data=actions.IdentifierInput(kind=kind, value=value)
        )
    assert Identifier.objects.count() == 0


def test_identifiers_need_consent_to_monitoring(consenting_case: Case, counsellor: Persona) -> None:
    with pytest.raises(ActionError, match="consent to monitoring"):
        actions.add_identifier(
            actor=counsellor.user, case=consenting_case, data=actions.IdentifierInput(kind="name", value=NAME)
        )


def test_the_case_page_records_shows_and_removes_identifiers(
    monitored: Case, counsellor: Persona, client_of: Callable[[Persona], Client]
) -> None:
    web = client_of(counsellor)
    url = f"/cases/{monitored.number}/identifiers/"
    bad = web.post(url, {"kind": "phone", "value": "12"})
    assert bad.status_code == 200
    assert "not a phone number" in bad.content.decode()
    r = web.post(url, {"kind": "phone", "value": PHONE, "alone": "", "search": ""})
    assert r.status_code == 302
    page = web.get(f"/cases/{monitored.number}/").content.decode()
    assert "2468" not in page
    assert "Phone number: 1" in page
    shown = web.post(f"/cases/{monitored.number}/identifiers/show/").content.decode()
    assert PHONE in shown
    assert AuditEvent.objects.filter(event_type="identifier.viewed").count() == 1
    pk = Identifier.objects.get().pk
    assert web.post(f"/cases/{monitored.number}/identifiers/{pk}/remove/").status_code == 302
    assert Identifier.objects.count() == 0
    assert AuditEvent.objects.filter(event_type="identifier.removed").count() == 1


def test_who_may_touch_identifiers_and_text_matches(
    site: TestSite,
    identified: Case,
    officer: Persona,
    reviewer: Persona,
    outsider: Persona,
    analyst: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    number = identified.number
    pk = Identifier.objects.first().pk  # type: ignore[union-attr]
    for persona in (reviewer, analyst):  # no right to her contact details
        web = client_of(persona)
        assert web.post(f"/cases/{number}/identifiers/", {"kind": "name", "value": "x"}).status_code == 403
        assert web.post(f"/cases/{number}/identifiers/show/").status_code == 403
        assert web.post(f"/cases/{number}/identifiers/{pk}/remove/").status_code == 403
    web = client_of(outsider)
    assert web.post(f"/cases/{number}/identifiers/", {"kind": "name", "value": "x"}).status_code == 404
    assert web.post(f"/cases/{number}/identifiers/show/").status_code == 404
    assert web.post(f"/cases/{number}/identifiers/{pk}/remove/").status_code == 404
    assert Identifier.objects.count() == 3
    _run(officer, _forum(site, "/pi6"))
    found = TextCandidate.objects.get()
    assert client_of(outsider).post(
        f"/monitoring/text/{found.pk}/decide/", {"decision": "reject"}
    ).status_code in (
        403,
        404,
    )
    assert (
        client_of(analyst).post(f"/monitoring/text/{found.pk}/decide/", {"decision": "reject"}).status_code
        == 403
    )
    assert NAME not in client_of(outsider).get(f"/monitoring/?reveal={found.pk}").content.decode()
    assert TextCandidate.objects.get().state == "pending"


def test_a_site_search_source_searches_for_marked_keywords_and_never_records_them(
    site: TestSite, monitored: Case, counsellor: Persona, officer: Persona
) -> None:
    title = "비밀 일기 유출본"
    actions.add_identifier(
        actor=counsellor.user,
        case=monitored,
        data=actions.IdentifierInput(kind="keyword", value=title, search=True),
    )
    from urllib.parse import quote_plus

    site.put(f"/pis/search?q={quote_plus(title)}", '<a href="/pis/post/7">결과</a>')
    site.put("/pis/post/7", f"<title>{title}</title><p>본문</p>")
    run = _run(officer, site.url("/pis/search?q={query}"), kind="search")
    assert run.status == "done", run.failure
    (found,) = TextCandidate.objects.all()
    assert found.page_url.endswith("/pis/post/7")
    assert title not in str(run.errors)
    assert quote_plus(title) not in str(run.errors)
    with pytest.raises(ActionError, match=r"\{query\}"):
        actions.save_source(
            actor=officer.user,
            data=actions.SourceInput(name="x", kind="search", target="https://forum.example/search"),
        )


def test_a_search_source_without_keywords_fails_with_a_reason(
    site: TestSite, monitored: Case, officer: Persona
) -> None:
    run = _run(officer, site.url("/pis2/search?q={query}"), kind="search")
    assert run.status == "failed"
    assert "keywords" in run.failure


def test_the_api_lists_text_matches_masked_and_takes_decisions(
    site: TestSite, identified: Case, officer: Persona, reviewer: Persona, outsider: Persona, analyst: Persona
) -> None:
    _run(officer, _forum(site, "/pi7"))
    listed = reviewer.api().get("/api/v1/text-candidates")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["case"] == identified.number
    assert "●●●" in row["snippet"]
    assert "2468" not in row["snippet"]
    assert outsider.api().get("/api/v1/text-candidates").json() == []
    assert analyst.api().get("/api/v1/text-candidates").status_code == 403
    url = f"/api/v1/text-candidates/{row['id']}/decision"
    assert (
        outsider.api().post(url, {"decision": "reject"}, content_type="application/json").status_code == 404
    )
    bad = reviewer.api().post(url, {"decision": "maybe"}, content_type="application/json")
    assert bad.status_code == 422
    done = reviewer.api().post(url, {"decision": "reject"}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["state"] == "rejected"
    again = reviewer.api().post(url, {"decision": "confirm"}, content_type="application/json")
    assert again.status_code == 422
