"""Each legal regime refuses a notice that lacks one of its required elements, in both languages."""

from __future__ import annotations

import dataclasses

import pytest

from haven.web.takedown import regimes

FULL = regimes.NoticeFacts(
    notifier="Centre A",
    notifier_email="takedown@centre-a.example",
    signer="Kim Officer",
    urls=("https://forum.example/post/1", "https://cdn.example/1.jpg"),
    platform="Example Forum",
    explanation="Posted by a former partner without consent.",
    notifier_address="1 Example Road, Seoul",
    notifier_phone="+82 2 000 0000",
    case_reference="HV-ABCD-EFGH",
    good_faith=True,
    accurate=True,
    work="a photograph the survivor took of themselves in 2023",
    owner_authorised=True,
    personal_information="their full name, mobile number and school",
    data_subject_authorised=True,
    search_queries=("lee survivor seoul",),
    search_result_urls=("https://search.example/search?q=lee+survivor+seoul",),
)

EMPTY = {
    "urls": (),
    "explanation": "  ",
    "notifier": "",
    "notifier_email": "",
    "signer": "",
    "good_faith": False,
    "accurate": False,
    "work": "",
    "owner_authorised": False,
    "data_subject_authorised": False,
}


@pytest.mark.parametrize("code", list(regimes.REGIMES))
@pytest.mark.parametrize("language", regimes.LANGUAGES)
def test_a_complete_notice_states_every_url_and_the_notifier(code: str, language: str) -> None:
    rendered = regimes.regime(code).render(FULL, language)
    for url in FULL.urls:
        assert url in rendered.body
    assert "Centre A" in rendered.body
    assert "takedown@centre-a.example" in rendered.body
    assert "HV-ABCD-EFGH" in rendered.body
    assert rendered.subject


@pytest.mark.parametrize(
    ("code", "required"),
    [
        ("dsa", {"urls", "explanation", "notifier", "notifier_email", "good_faith"}),
        ("take_it_down", {"signer", "urls", "good_faith", "notifier", "notifier_email"}),
        (
            "dmca",
            {
                "signer",
                "work",
                "urls",
                "contact",
                "notifier_email",
                "good_faith",
                "accurate",
                "owner_authorised",
            },
        ),
        ("kr_deletion", {"urls", "notifier", "notifier_email", "contact", "signer", "good_faith"}),
        ("policy", {"urls", "notifier", "notifier_email", "good_faith"}),
        ("uk_osa", {"urls", "notifier", "notifier_email", "good_faith"}),
        (
            "au_esafety",
            {"urls", "explanation", "data_subject_authorised", "notifier", "notifier_email", "signer"},
        ),
        (
            "in_it_rules",
            {"urls", "data_subject_authorised", "notifier", "notifier_email", "signer", "good_faith"},
        ),
    ],
)
def test_the_renderer_refuses_a_notice_missing_any_required_element(code: str, required: set[str]) -> None:
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


def test_the_statutory_wording_is_there() -> None:
    dsa = regimes.regime("dsa").render(FULL, "en").body
    assert "Article 16" in dsa
    assert (
        "bona fide belief that the information and allegations in this notice are accurate and complete"
        in dsa
    )
    tid = regimes.regime("take_it_down").render(FULL, "en").body
    assert "good faith belief" in tid
    assert "not consensual" in tid
    assert "48 hours" in tid
    assert "/Kim Officer/" in tid
    dmca = regimes.regime("dmca").render(FULL, "en").body
    assert "under penalty of perjury" in dmca
    assert "not authorized by the copyright owner, its agent, or the law" in dmca
    kr = regimes.regime("kr_deletion").render(FULL, "ko").body
    assert "제7조의3" in kr
    assert "제22조의5" in kr
    assert "방송통신심의위원회" in kr
    assert regimes.regime("take_it_down").deadline_hours == 48


def test_the_uk_australian_and_indian_wording_cites_its_law() -> None:
    uk = regimes.regime("uk_osa")
    body = uk.render(FULL, "en").body
    assert "Online Safety Act 2023" in body
    assert "section 66B of the Sexual Offences Act 2003" in body
    assert "section 10(3)(b)" in body
    assert "swiftly" in body
    assert uk.deadline_hours is None  # "swiftly": the Act sets no hours
    assert "제66B조" in uk.render(FULL, "ko").body

    au = regimes.regime("au_esafety")
    body = au.render(FULL, "en").body
    assert au.via_web_form
    assert au.recipients == ("regulator",)
    assert "section 32" in body
    assert "lives in Australia" in body  # eSafety acts only with a link to Australia
    assert "under 18" in body
    assert au.deadline_hours is None  # the 24 hours run from eSafety's own removal notice
    assert "s. 77" in str(au.escalation)

    india = regimes.regime("in_it_rules")
    body = india.render(FULL, "en").body
    assert india.deadline_hours == 24
    assert "rule 3(2)(b)" in body
    assert "Grievance Officer" in body
    assert "twenty-four hours" in body
    assert "artificially morphed" in body
    assert "제3조제2항(b)" in india.render(FULL, "ko").body


def test_the_survivor_is_named_only_when_given() -> None:
    anonymous = regimes.regime("policy").render(FULL, "en").body
    assert "identity we withhold" in anonymous
    named = (
        regimes.regime("policy").render(dataclasses.replace(FULL, survivor_name="Lee Survivor"), "en").body
    )
    assert "Lee Survivor" in named
    assert (
        "Lee Survivor"
        in regimes.regime("dsa").render(dataclasses.replace(FULL, survivor_name="Lee Survivor"), "ko").body
    )


def test_unknown_regimes_and_languages_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown legal regime"):
        regimes.regime("gdpr")
    with pytest.raises(ValueError, match="no 'fr' wording"):
        regimes.regime("dsa").render(FULL, "fr")
