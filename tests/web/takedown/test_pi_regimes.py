"""Requests to delete a survivor's leaked personal information: GDPR erasure, the Korean privacy
deletion request, a platform's privacy policy and a search engine's removal form."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.takedown import actions, regimes
from haven.web.takedown.models import Notice, Platform, Sighting
from tests.scan.site import TestSite
from tests.web.conftest import Persona

pytestmark = pytest.mark.usefixtures("loopback")

PI_REGIMES = ("gdpr_erasure", "kr_privacy", "privacy_policy", "search_pi_removal")

EXPOSED = "their full name, mobile number and the school they attend"
QUERIES = ("lee survivor seoul", "lee survivor high school")
RESULTS = (
    "https://search.example/search?q=lee+survivor+seoul",
    "https://search.example/search?q=lee+survivor+high+school",
)

FULL = regimes.NoticeFacts(
    notifier="Centre A",
    notifier_email="takedown@centre-a.example",
    signer="Kim Officer",
    urls=("https://forum.example/post/1", "https://forum.example/post/2"),
    platform="Example Forum",
    explanation="The posts appeared the day after she left a violent partner.",
    notifier_address="1 Example Road, Seoul",
    notifier_phone="+82 2 000 0000",
    case_reference="HV-ABCD-EFGH",
    good_faith=True,
    personal_information=EXPOSED,
    data_subject_authorised=True,
    search_queries=QUERIES,
    search_result_urls=RESULTS,
)

# How each required element shows in a rendered notice, by language.
SHOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "urls": {"en": FULL.urls, "ko": FULL.urls},
    "personal_information": {"en": (EXPOSED,), "ko": (EXPOSED,)},
    "explanation": {"en": (FULL.explanation,), "ko": (FULL.explanation,)},
    "data_subject_authorised": {"en": ("has authorised",), "ko": ("위임하였습니다",)},
    "notifier": {"en": ("Centre A",), "ko": ("Centre A",)},
    "notifier_email": {"en": ("takedown@centre-a.example",), "ko": ("takedown@centre-a.example",)},
    "signer": {"en": ("Kim Officer",), "ko": ("Kim Officer",)},
    "contact": {"en": ("1 Example Road, Seoul",), "ko": ("1 Example Road, Seoul",)},
    "good_faith": {"en": ("in good faith",), "ko": ("선의로",)},
    "search_queries": {"en": QUERIES, "ko": QUERIES},
    "search_result_urls": {"en": RESULTS, "ko": RESULTS},
}

EMPTY: dict[str, object] = {
    "urls": (),
    "personal_information": "  ",
    "explanation": "",
    "data_subject_authorised": False,
    "notifier": "",
    "notifier_email": " ",
    "signer": "",
    "good_faith": False,
    "search_queries": ("", "  "),
    "search_result_urls": (),
}


@pytest.mark.parametrize("code", PI_REGIMES)
@pytest.mark.parametrize("language", regimes.LANGUAGES)
def test_a_complete_request_states_every_required_element(code: str, language: str) -> None:
    regime = regimes.regime(code)
    rendered = regime.render(FULL, language)
    assert rendered.subject
    for element in regime.required:
        for text in SHOWN[element][language]:
            assert text in rendered.body, (element, text)
    assert "HV-ABCD-EFGH" in rendered.body


@pytest.mark.parametrize(
    ("code", "required"),
    [
        (
            "gdpr_erasure",
            {
                "urls",
                "personal_information",
                "explanation",
                "data_subject_authorised",
                "notifier",
                "notifier_email",
                "signer",
            },
        ),
        (
            "kr_privacy",
            {
                "urls",
                "personal_information",
                "explanation",
                "data_subject_authorised",
                "notifier",
                "notifier_email",
                "contact",
                "signer",
            },
        ),
        (
            "privacy_policy",
            {
                "urls",
                "personal_information",
                "data_subject_authorised",
                "notifier",
                "notifier_email",
                "good_faith",
            },
        ),
        (
            "search_pi_removal",
            {
                "urls",
                "search_result_urls",
                "search_queries",
                "personal_information",
                "data_subject_authorised",
                "notifier",
                "notifier_email",
                "signer",
            },
        ),
    ],
)
def test_a_request_missing_any_required_element_is_refused_naming_it(code: str, required: set[str]) -> None:
    regime = regimes.regime(code)
    assert set(regime.required) == required
    for element in required:
        if element == "contact":
            facts = dataclasses.replace(FULL, notifier_address="", notifier_phone=" ")
        else:
            facts = dataclasses.replace(FULL, **{element: EMPTY[element]})
        for language in regimes.LANGUAGES:
            with pytest.raises(regimes.MissingElements) as exc:
                regime.render(facts, language)
            assert exc.value.missing == [element]
            assert element in str(exc.value)


def test_the_deadlines_are_the_laws_or_the_platforms() -> None:
    assert regimes.regime("gdpr_erasure").deadline_hours == 720  # one month, GDPR Art. 12(3)
    assert regimes.regime("kr_privacy").deadline_hours == 240  # 10 days, PIPA Enforcement Decree Art. 43(3)
    assert regimes.regime("privacy_policy").deadline_hours is None
    assert regimes.regime("search_pi_removal").deadline_hours is None
    web_forms = {code for code, r in regimes.REGIMES.items() if r.via_web_form}
    assert web_forms == {"search_pi_removal", "au_esafety"}


def test_the_statutes_are_cited() -> None:
    gdpr = regimes.regime("gdpr_erasure").render(FULL, "en").body
    for text in ("Article 17", "Regulation (EU) 2016/679", "Article 12(3)", "one month", "Article 19"):
        assert text in gdpr, text
    assert "제17조" in regimes.regime("gdpr_erasure").render(FULL, "ko").body
    kr = regimes.regime("kr_privacy").render(FULL, "ko").body
    for text in ("제44조의2", "「개인정보 보호법」 제36조", "시행령 제43조제3항", "10일", "임시조치"):
        assert text in kr, text
    kr_en = regimes.regime("kr_privacy").render(FULL, "en").body
    assert "Article 44-2" in kr_en
    assert "Articles 36 and 38(1) of the Personal Information Protection Act" in kr_en


def test_the_search_request_lists_the_form_fields_in_order() -> None:
    body = regimes.regime("search_pi_removal").render(FULL, "en").body
    positions = [
        body.index(text)
        for text in (
            EXPOSED,
            "authorised representative",
            "Full name: Kim Officer",
            FULL.urls[0],
            RESULTS[0],
            QUERIES[0],
        )
    ]
    assert positions == sorted(positions)
    assert body.index(QUERIES[0]) < body.index(QUERIES[1])


@pytest.mark.parametrize("code", PI_REGIMES)
def test_the_survivor_is_named_only_when_given(code: str) -> None:
    regime = regimes.regime(code)
    assert "identity we withhold" in regime.render(FULL, "en").body
    assert "신원은 밝히지 않음" in regime.render(FULL, "ko").body
    named = dataclasses.replace(FULL, survivor_name="Lee Survivor")
    for language in regimes.LANGUAGES:
        assert "Lee Survivor" in regime.render(named, language).body
        assert "Lee Survivor" not in regime.render(FULL, language).body


# --- drafting -----------------------------------------------------------------------------------


def _captured(site: TestSite, case: Case, actor: Persona, *paths: str) -> list[Sighting]:
    urls = [site.put(p, f"<html>{p}: her name and number</html>") for p in paths]
    rows = actions.add_sightings(actor=actor.user, case=case, urls=urls, source="counsellor").created
    for s in rows:
        actions.capture_evidence(actor=actor.user, sighting=s)
    return [Sighting.objects.get(pk=s.pk) for s in rows]


def test_a_gdpr_erasure_request_is_drafted_over_the_api_and_gives_a_month(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/pi/gdpr")
    api = officer.api()
    body = {
        "sightings": [rows[0].pk],
        "regime": "gdpr_erasure",
        "signer": "Kim Officer",
        "explanation": "She never agreed to any of it being posted.",
        "personal_information": EXPOSED,
    }
    r = api.post("/api/v1/notices", body, content_type="application/json")
    assert r.status_code == 422
    assert "authorised us to make this request" in r.json()["detail"]
    assert Notice.objects.count() == 0
    r = api.post(
        "/api/v1/notices", {**body, "data_subject_authorised": True}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    drafted = r.json()
    assert drafted["regime"] == "gdpr_erasure"
    assert drafted["recipient"] == "abuse@platform.test"
    assert EXPOSED in drafted["body"]
    assert rows[0].url in drafted["body"]
    assert "Article 17" in drafted["body"]
    notice = actions.send_notice(actor=officer.user, notice=Notice.objects.get(pk=drafted["id"]))
    assert len(mail.outbox) == 1
    assert notice.deadline_at is not None
    assert notice.sent_at is not None
    assert notice.deadline_at - notice.sent_at == dt.timedelta(days=30)


def test_an_unknown_field_and_a_bad_results_page_are_refused_over_the_api(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/pi/bad")
    api = officer.api()
    body = {
        "sightings": [rows[0].pk],
        "regime": "search_pi_removal",
        "signer": "Kim Officer",
        "personal_information": EXPOSED,
        "data_subject_authorised": True,
        "search_queries": list(QUERIES),
        "search_result_urls": ["javascript:alert(1)"],
        "recipient": "https://search.example/remove",
    }
    r = api.post("/api/v1/notices", body, content_type="application/json")
    assert r.status_code in (400, 422)
    assert "Search results page" in r.json()["detail"]
    r = api.post("/api/v1/notices", {**body, "search_terms": ["x"]}, content_type="application/json")
    assert r.status_code == 422
    assert Notice.objects.count() == 0


def test_a_search_engine_request_goes_to_its_web_form_and_is_recorded_as_sent_there(
    site: TestSite, consenting_case: Case, platform: Platform, officer: Persona, admin: Persona
) -> None:
    rows = _captured(site, consenting_case, officer, "/pi/search")
    data = actions.NoticeInput(
        regime="search_pi_removal",
        signer="Kim Officer",
        personal_information=EXPOSED,
        data_subject_authorised=True,
        search_queries=[" lee survivor seoul ", ""],
        search_result_urls=list(RESULTS[:1]),
    )
    # The local platform has only an abuse address: this request needs a form.
    with pytest.raises(ActionError, match="web form"):
        actions.draft_notice(actor=officer.user, sightings=rows, data=data)
    actions.save_platform(
        actor=admin.user,
        platform=platform,
        data=actions.PlatformInput(
            name=platform.name,
            kind="search",
            domains=["127.0.0.1"],
            abuse_email=platform.abuse_email,
            web_form_url="https://search.example/legal/remove-personal-info",
            regimes=["search_pi_removal"],
            response_hours=96,
        ),
    )
    rows = [Sighting.objects.select_related("platform").get(pk=s.pk) for s in rows]
    notice = actions.draft_notice(actor=officer.user, sightings=rows, data=data)
    assert notice.recipient == "https://search.example/legal/remove-personal-info"
    text = actions.notice_body(notice)
    assert "  1. lee survivor seoul\n" in text
    assert RESULTS[0] in text
    with pytest.raises(ActionError, match="web form"):
        actions.send_notice(actor=officer.user, notice=notice)
    notice = actions.record_web_form(actor=officer.user, notice=notice, reference="PI-REQ-77")
    assert notice.sent_via == "web_form"
    assert notice.deadline_at is not None
    assert notice.sent_at is not None
    assert notice.deadline_at - notice.sent_at == dt.timedelta(hours=96)  # no law: the platform's time
    assert mail.outbox == []


def test_the_notice_form_shows_and_takes_the_personal_information_fields(
    site: TestSite,
    consenting_case: Case,
    platform: Platform,
    officer: Persona,
    client_of: Callable[[Persona], Client],
) -> None:
    rows = _captured(site, consenting_case, officer, "/pi/form")
    client = client_of(officer)
    page = client.get(reverse("takedown:notice_new"), {"s": rows[0].pk}).content.decode()
    assert 'data-for-regimes="search_pi_removal"' in page  # the search terms and results pages
    assert 'data-for-regimes="gdpr_erasure kr_privacy privacy_policy search_pi_removal"' in page
    assert 'name="personal_information"' in page
    assert 'name="data_subject_authorised"' in page
    form = {
        "s": rows[0].pk,
        "regime": "search_pi_removal",
        "language": "ko",
        "signer": "Kim Officer",
        "notifier_email": "takedown@centre-a.example",
        "recipient": "https://search.example/remove",
        "personal_information": EXPOSED,
        "search_queries": "\n".join(QUERIES) + "\n\n",
        "search_result_urls": RESULTS[0],
    }
    response = client.post(reverse("takedown:notice_new"), form)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Required for this notice: confirmation that the survivor authorised us" in text
    assert Notice.objects.count() == 0
    response = client.post(reverse("takedown:notice_new"), {**form, "data_subject_authorised": "on"})
    assert response.status_code == 302
    notice = Notice.objects.get()
    body = actions.notice_body(notice)
    assert notice.regime == "search_pi_removal"
    assert "검색어" in body
    for query in QUERIES:
        assert query in body
    assert RESULTS[0] in body
