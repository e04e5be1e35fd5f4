"""Legal regimes for takedown notices: one plug-in each, with the elements its law requires.

A regime knows which facts a valid notice must contain, how long the platform has to act,
and how to word the notice in English and in Korean.  :func:`render` refuses to produce a
notice that lacks a required element, naming what is missing, so that no notice leaves the
centre that the platform could reject as incomplete.

The organisation is always the notifier.  The survivor's name appears only when their consent
allows it (the caller passes ``survivor_name`` only then).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LANGUAGES = ("en", "ko")


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a notice may state. Empty strings and ``False`` mean "not given"."""

    notifier: str  # the organisation's name
    notifier_email: str
    signer: str  # the officer who signs, by full name
    urls: tuple[str, ...]
    platform: str
    explanation: str = ""  # why the content is unlawful / against policy, in the officer's words
    notifier_address: str = ""
    notifier_phone: str = ""
    case_reference: str = ""  # the pseudonymous case number
    survivor_name: str = ""
    good_faith: bool = False  # the officer confirms the good-faith statement
    accurate: bool = (
        False  # the officer confirms accuracy (and, for DMCA, authority) under penalty of perjury
    )
    work: str = ""  # DMCA: the survivor's own work that is copied
    owner_authorised: bool = False  # DMCA: the survivor owns the copyright and authorised the centre
    # Personal-information requests: what kind of information the URLs expose ("their full name,
    # mobile number and school"), described so that the notice does not spread it further.
    personal_information: str = ""
    data_subject_authorised: bool = False  # the survivor authorised the centre to ask for their data
    search_queries: tuple[str, ...] = ()  # search engines: the terms that bring the results up
    search_result_urls: tuple[str, ...] = ()  # search engines: the results pages that show them
    date: dt.date = field(default_factory=dt.date.today)


class MissingElements(ValueError):
    def __init__(self, regime: str, missing: list[str]) -> None:
        self.regime = regime
        self.missing = missing
        super().__init__(f"{regime}: missing {', '.join(missing)}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


# element name -> (label, test on the facts)
ELEMENTS: dict[str, tuple[Promise, str]] = {
    "urls": (_("the exact URLs"), "urls"),
    "explanation": (_("an explanation of why the content is unlawful"), "explanation"),
    "notifier": (_("the notifier's name"), "notifier"),
    "notifier_email": (_("the notifier's e-mail address"), "notifier_email"),
    "signer": (_("a signature (the officer's full name)"), "signer"),
    "good_faith": (_("the good-faith statement"), "good_faith"),
    "accurate": (_("the statement of accuracy and authority"), "accurate"),
    "work": (_("a description of the copyrighted work"), "work"),
    "owner_authorised": (
        _("confirmation that the survivor owns the copyright and authorised us"),
        "owner_authorised",
    ),
    "contact": (_("a postal address or telephone number"), "contact"),
    "personal_information": (
        _("a description of the personal information exposed (without repeating it)"),
        "personal_information",
    ),
    "data_subject_authorised": (
        _("confirmation that the survivor authorised us to make this request for them"),
        "data_subject_authorised",
    ),
    "search_queries": (_("the search terms that bring up the results"), "search_queries"),
    "search_result_urls": (_("the URLs of the search results pages"), "search_result_urls"),
}


def _has(facts: NoticeFacts, element: str) -> bool:
    if element == "contact":
        return bool(facts.notifier_address.strip() or facts.notifier_phone.strip())
    value = getattr(facts, ELEMENTS[element][1])
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, tuple):
        return any(str(x).strip() for x in value)
    return bool(value)


def _numbered(items: tuple[str, ...]) -> str:
    return "\n".join(f"  {n}. {x}" for n, x in enumerate((x for x in items if x.strip()), 1))


def _urls(facts: NoticeFacts) -> str:
    return _numbered(facts.urls)


def _contact(facts: NoticeFacts) -> str:
    lines = [facts.notifier, facts.notifier_email]
    lines += [x for x in (facts.notifier_address, facts.notifier_phone) if x.strip()]
    return "\n".join(f"  {x}" for x in lines)


# Who a notice may be addressed to.
RECIPIENTS: dict[str, Promise] = {
    "platform": _("platform"),
    "host": _("hosting provider"),
    "search_engine": _("search engine"),
    "regulator": _("regulator"),
    "hotline": _("hotline"),
}
_OWN_APPEAL = _("The platform's own appeal, then a notice under a law that applies to it.")


class Regime:
    code: ClassVar[str]
    name: ClassVar[Promise]
    required: ClassVar[tuple[str, ...]]
    deadline_hours: ClassVar[int | None] = None  # a duty the law sets; None: the platform's own time
    # Made through the platform's web form, not by e-mail: the text is what the officer pastes there.
    via_web_form: ClassVar[bool] = False
    country: ClassVar[str] = ""  # where the law applies (ISO 3166 code, or EU); "": a platform's own rules
    recipients: ClassVar[tuple[str, ...]] = ("platform",)  # keys of RECIPIENTS
    escalation: ClassVar[Promise] = _OWN_APPEAL  # where to turn when the recipient refuses or is silent

    def missing(self, facts: NoticeFacts) -> list[str]:
        return [e for e in self.required if not _has(facts, e)]

    def render(self, facts: NoticeFacts, language: str) -> Rendered:
        missing = self.missing(facts)
        if missing:
            raise MissingElements(self.code, missing)
        if language not in LANGUAGES:
            raise ValueError(f"no {language!r} wording for {self.code}")
        return self._ko(facts) if language == "ko" else self._en(facts)

    def _en(self, facts: NoticeFacts) -> Rendered:
        raise NotImplementedError

    def _ko(self, facts: NoticeFacts) -> Rendered:
        raise NotImplementedError


def _who_en(facts: NoticeFacts) -> str:
    if facts.survivor_name.strip():
        return f"{facts.survivor_name.strip()}, whom we support and who has asked us to act on their behalf"
    return "a person we support, who has asked us to act on their behalf and whose identity we withhold for their safety"


def _who_ko(facts: NoticeFacts) -> str:
    if facts.survivor_name.strip():
        return f"본 기관이 지원하는 피해자 {facts.survivor_name.strip()} 님(본 기관에 조치를 위임함)"
    return "본 기관이 지원하는 피해자(본 기관에 조치를 위임함, 안전을 위해 신원은 밝히지 않음)"


def _ref_en(facts: NoticeFacts) -> str:
    return f"Our reference: {facts.case_reference}\n" if facts.case_reference else ""


def _ref_ko(facts: NoticeFacts) -> str:
    return f"본 기관 참조번호: {facts.case_reference}\n" if facts.case_reference else ""


class DsaArticle16(Regime):
    """EU Digital Services Act, Art. 16(2): explanation, exact URLs, notifier's name and e-mail, good faith."""

    code = "dsa"
    name = _("EU Digital Services Act, Art. 16 notice")
    required = ("urls", "explanation", "notifier", "notifier_email", "good_faith")

    country = "EU"
    recipients = ("platform", "host")
    escalation = _(
        "The platform's internal complaint system (Art. 20), an out-of-court dispute settlement body "
        "(Art. 21), or a complaint to the Digital Services Coordinator (Art. 53)."
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To {f.platform},\n\n"
            "This is a notice under Article 16 of Regulation (EU) 2022/2065 (Digital Services Act) "
            "about illegal content on your service.\n\n"
            f"1. Exact location of the content (URLs):\n{_urls(f)}\n\n"
            "2. Why the content is illegal:\n"
            f"  These are intimate images of {_who_en(f)}, shared without their consent. "
            f"{f.explanation.strip()}\n\n"
            f"3. Notifier:\n{_contact(f)}\n\n"
            "4. Statement: I confirm my bona fide belief that the information and allegations in this "
            "notice are accurate and complete.\n\n"
            "Please remove or disable access to all of the URLs above, and confirm receipt of this notice "
            "and your decision as Article 16(5) and Article 17 require.\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n{f.notifier}\n"
        )
        return Rendered(
            f"Digital Services Act Art. 16 notice: non-consensual intimate images ({len(f.urls)} URLs)", body
        )

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 귀중\n\n"
            "본 통지는 디지털서비스법(EU 규정 2022/2065) 제16조에 따른 불법 콘텐츠 신고입니다.\n\n"
            f"1. 콘텐츠의 정확한 위치(URL):\n{_urls(f)}\n\n"
            "2. 불법인 이유:\n"
            f"  위 콘텐츠는 {_who_ko(f)}의 동의 없이 유포된 성적 촬영물입니다. {f.explanation.strip()}\n\n"
            f"3. 신고자:\n{_contact(f)}\n\n"
            "4. 진술: 본 신고에 포함된 정보와 주장이 정확하고 완전하다고 선의로 믿고 있음을 확인합니다.\n\n"
            "위 URL 전체를 삭제하거나 접근을 차단하고, 제16조 제5항 및 제17조에 따라 접수 확인과 결정 내용을 "
            "알려 주시기 바랍니다.\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n{f.notifier}\n"
        )
        return Rendered(f"디지털서비스법 제16조 신고: 비동의 성적 촬영물 (URL {len(f.urls)}건)", body)


class TakeItDown(Regime):
    """US TAKE IT DOWN Act removal request: signature, identification and location, good faith, contact."""

    code = "take_it_down"
    name = _("US TAKE IT DOWN Act removal request")
    required = ("signer", "urls", "good_faith", "notifier", "notifier_email")
    deadline_hours = 48

    country = "US"
    escalation = _("The Federal Trade Commission, which enforces the 48-hour duty (Section 3(b)).")

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To {f.platform},\n\n"
            "This is a removal request under Section 3 of the TAKE IT DOWN Act (47 U.S.C. § 223a) for "
            "non-consensual intimate visual depictions on your platform.\n\n"
            "1. Identification and location of the intimate visual depictions:\n"
            f"{_urls(f)}\n"
            f"  They depict {_who_en(f)}.\n\n"
            "2. Statement of good faith: the identifiable individual has a good faith belief that the "
            "intimate visual depictions identified above are not consensual. "
            f"{f.explanation.strip()}\n\n"
            f"3. Contact for the identifiable individual's authorised representative:\n{_contact(f)}\n\n"
            "The Act requires you to remove these depictions within 48 hours of this request and to make "
            "reasonable efforts to identify and remove any known identical copies.\n\n"
            f"{_ref_en(f)}Signed (electronic signature): /{f.signer}/, for {f.notifier}, authorised to act on "
            f"behalf of the identifiable individual\n{f.date.isoformat()}\n"
        )
        return Rendered(f"TAKE IT DOWN Act removal request ({len(f.urls)} URLs): 48-hour removal duty", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 귀중\n\n"
            "본 요청은 미국 TAKE IT DOWN Act 제3조(47 U.S.C. § 223a)에 따른 비동의 성적 영상물 삭제 요청입니다.\n\n"
            f"1. 해당 성적 영상물의 식별 및 위치:\n{_urls(f)}\n"
            f"  위 영상물에는 {_who_ko(f)}이(가) 등장합니다.\n\n"
            "2. 선의의 진술: 식별 가능한 당사자는 위 영상물이 동의 없이 게시되었다고 선의로 믿고 있습니다. "
            f"{f.explanation.strip()}\n\n"
            f"3. 당사자의 위임을 받은 대리인 연락처:\n{_contact(f)}\n\n"
            "동법에 따라 귀사는 본 요청을 받은 때부터 48시간 이내에 해당 영상물을 삭제하고, 알려진 동일한 사본을 "
            "찾아 삭제하기 위해 합리적인 노력을 기울여야 합니다.\n\n"
            f"{_ref_ko(f)}서명(전자서명): /{f.signer}/, {f.notifier} (당사자를 대리할 권한 있음)\n{f.date.isoformat()}\n"
        )
        return Rendered(f"TAKE IT DOWN Act 삭제 요청 (URL {len(f.urls)}건): 48시간 내 삭제 의무", body)


class Dmca512(Regime):
    """US DMCA § 512(c)(3): the six elements, for survivors who own the copyright in their images."""

    code = "dmca"
    name = _("US DMCA § 512(c)(3) notice (survivor owns the copyright)")
    required = (
        "signer",
        "work",
        "urls",
        "contact",
        "notifier_email",
        "good_faith",
        "accurate",
        "owner_authorised",
    )

    country = "US"
    recipients = ("platform", "host", "search_engine")
    escalation = _("The hosting provider upstream, or a court: the DMCA names no regulator.")

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To the designated agent of {f.platform},\n\n"
            "This is a notification of claimed infringement under 17 U.S.C. § 512(c)(3).\n\n"
            f"1. The copyrighted work: {f.work.strip()}. The copyright owner is {_who_en(f)}.\n\n"
            f"2. The infringing material and where it is:\n{_urls(f)}\n\n"
            f"3. Contact information of the complaining party:\n{_contact(f)}\n\n"
            "4. I have a good faith belief that use of the material in the manner complained of is not "
            "authorized by the copyright owner, its agent, or the law.\n\n"
            "5. The information in this notification is accurate, and under penalty of perjury, I am "
            "authorized to act on behalf of the owner of an exclusive right that is allegedly infringed.\n\n"
            f"{_ref_en(f)}6. Signature: /{f.signer}/, for {f.notifier}\n{f.date.isoformat()}\n"
        )
        return Rendered(f"DMCA notice of claimed infringement ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 지정 대리인 귀중\n\n"
            "본 통지는 미국 저작권법 17 U.S.C. § 512(c)(3)에 따른 저작권 침해 통지입니다.\n\n"
            f"1. 저작물: {f.work.strip()}. 저작권자는 {_who_ko(f)}입니다.\n\n"
            f"2. 침해 자료와 그 위치:\n{_urls(f)}\n\n"
            f"3. 신고인 연락처:\n{_contact(f)}\n\n"
            "4. 본인은 위 자료의 이용이 저작권자, 그 대리인 또는 법률에 의해 허락되지 않았다고 선의로 믿습니다.\n\n"
            "5. 본 통지의 정보는 정확하며, 본인은 위증 시 처벌을 감수하고 침해된 배타적 권리의 권리자를 대리할 "
            "권한이 있음을 진술합니다.\n\n"
            f"{_ref_ko(f)}6. 서명: /{f.signer}/, {f.notifier}\n{f.date.isoformat()}\n"
        )
        return Rendered(f"DMCA 저작권 침해 통지 (URL {len(f.urls)}건)", body)


class KoreaDeletion(Regime):
    """Korea: a deletion request under the Sexual Violence Prevention Act, Art. 7-3, and the
    Telecommunications Business Act, Art. 22-5 (providers must delete or block without delay);
    the same text serves as a review request to the Korea Communications Standards Commission."""

    code = "kr_deletion"
    name = _("Korea: deletion request (Sexual Violence Prevention Act, Art. 7-3)")
    required = ("urls", "notifier", "notifier_email", "contact", "signer", "good_faith")
    deadline_hours = 24

    country = "KR"
    recipients = ("platform", "host")
    escalation = _(
        "A request to the Korea Communications Standards Commission (KCSC) to review the content for "
        "deletion or blocking."
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To {f.platform},\n\n"
            "Under Article 7-3 of the Act on the Prevention of Sexual Violence and Protection of Victims, "
            f"{f.notifier} supports the deletion of illegally filmed or distributed sexual material. Under "
            "Article 22-5 of the Telecommunications Business Act you must delete or block such material "
            "without delay when asked by the victim or by an institution supporting them.\n\n"
            f"1. Material (URLs):\n{_urls(f)}\n\n"
            f"2. The material shows {_who_en(f)} and was filmed or distributed without consent. "
            f"{f.explanation.strip()}\n\n"
            "3. We ask you to delete it or block access to it at once, and to tell us when you have done so. "
            "If it is not removed, we will ask the Korea Communications Standards Commission to review it.\n\n"
            f"4. Requesting institution:\n{_contact(f)}\n\n"
            "We confirm in good faith that this request is accurate.\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"Deletion request: illegally filmed sexual material ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 귀중\n\n"
            f"{f.notifier}은(는) 「성폭력방지 및 피해자보호 등에 관한 법률」 제7조의3에 따라 불법촬영물등의 삭제를 "
            "지원하고 있습니다. 「전기통신사업법」 제22조의5에 따라 귀사는 피해자 또는 피해자를 지원하는 기관의 "
            "요청을 받은 경우 해당 정보를 지체 없이 삭제하거나 접속을 차단하여야 합니다.\n\n"
            f"1. 삭제 요청 정보(URL):\n{_urls(f)}\n\n"
            f"2. 위 정보는 {_who_ko(f)}이(가) 등장하는 촬영물로, 동의 없이 촬영 또는 유포되었습니다. "
            f"{f.explanation.strip()}\n\n"
            "3. 즉시 삭제 또는 접속 차단하고 그 결과를 회신하여 주시기 바랍니다. 삭제되지 않을 경우 "
            "방송통신심의위원회에 심의를 신청할 예정입니다.\n\n"
            f"4. 요청 기관:\n{_contact(f)}\n\n"
            "본 요청의 내용이 사실임을 선의로 확인합니다.\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"불법촬영물등 삭제 요청 (URL {len(f.urls)}건)", body)


class PlatformPolicy(Regime):
    """A report under the platform's own policy on non-consensual intimate imagery."""

    code = "policy"
    name = _("Platform policy report (non-consensual intimate imagery)")
    required = ("urls", "notifier", "notifier_email", "good_faith")

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To the trust and safety team of {f.platform},\n\n"
            "We report non-consensual intimate imagery on your service, which your policies prohibit.\n\n"
            f"URLs:\n{_urls(f)}\n\n"
            f"The images show {_who_en(f)} and were shared without consent. {f.explanation.strip()}\n\n"
            "Please remove them, and keep identical copies from being uploaded again.\n\n"
            "We confirm in good faith that this report is accurate.\n\n"
            f"Reported by:\n{_contact(f)}\n\n{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"Report: non-consensual intimate imagery ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 운영정책팀 귀중\n\n"
            "귀사의 정책이 금지하는 비동의 성적 촬영물이 서비스에 게시되어 신고합니다.\n\n"
            f"URL:\n{_urls(f)}\n\n"
            f"위 촬영물에는 {_who_ko(f)}이(가) 등장하며, 동의 없이 공유되었습니다. {f.explanation.strip()}\n\n"
            "삭제하여 주시고, 동일한 사본이 다시 업로드되지 않도록 조치하여 주시기 바랍니다.\n\n"
            "본 신고 내용이 정확함을 선의로 확인합니다.\n\n"
            f"신고자:\n{_contact(f)}\n\n{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"신고: 비동의 성적 촬영물 (URL {len(f.urls)}건)", body)


class UkOnlineSafety(Regime):
    """UK Online Safety Act 2023: a report of illegal content to a user-to-user service, whose duty
    is to "swiftly take down" illegal content it is alerted to (s. 10(3)(b)) through its reporting
    and complaints procedures (ss. 20, 21).  Sharing an intimate image without consent is an offence
    under the Sexual Offences Act 2003, s. 66B.  The Act sets no number of hours and no form."""

    code = "uk_osa"
    name = _("UK Online Safety Act 2023: report of illegal intimate image content")
    required = ("urls", "notifier", "notifier_email", "good_faith")
    country = "GB"
    recipients = ("platform", "search_engine")
    escalation = _(
        "The service's complaints procedure (s. 21), then the police (Sexual Offences Act 2003, s. 66B). "
        "Ofcom hears about a service's failings but does not handle individual complaints."
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To {f.platform},\n\n"
            "This is a report of illegal content under your duties in the Online Safety Act 2023. "
            "Sharing an intimate photograph or film of a person without their consent is an offence "
            "under section 66B of the Sexual Offences Act 2003.\n\n"
            f"1. The content (URLs):\n{_urls(f)}\n\n"
            f"2. Why it is illegal: these are intimate images of {_who_en(f)}, shared without their "
            f"consent.{_then(f.explanation)}\n\n"
            "3. What we ask: section 10(3)(b) of the Act requires you, once alerted to illegal content, "
            "to take it down swiftly. Please remove every URL above, keep copies from being shared again, "
            "and tell us what you have done. If you decide not to act, tell us how to complain under "
            "your complaints procedure (section 21).\n\n"
            f"4. Reported by:\n{_contact(f)}\n\n"
            "We confirm in good faith that this report is accurate.\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(
            f"Online Safety Act report: intimate images shared without consent ({len(f.urls)} URLs)", body
        )

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 귀중\n\n"
            "본 신고는 영국 온라인안전법(Online Safety Act 2023)에 따른 귀사의 의무와 관련한 불법 콘텐츠 "
            "신고입니다. 동의 없이 타인의 성적 사진이나 영상을 공유하는 것은 영국 성범죄법(Sexual Offences "
            "Act 2003) 제66B조의 범죄입니다.\n\n"
            f"1. 콘텐츠(URL):\n{_urls(f)}\n\n"
            f"2. 불법인 이유: 위 콘텐츠는 {_who_ko(f)}의 성적 촬영물로, 동의 없이 공유되었습니다."
            f"{_then(f.explanation)}\n\n"
            "3. 요청 사항: 동법 제10조제3항(b)는 불법 콘텐츠를 알게 된 서비스가 이를 신속히 삭제하도록 "
            "정하고 있습니다. 위 URL 전체를 삭제하고, 사본이 다시 공유되지 않도록 조치한 뒤 결과를 알려 "
            "주시기 바랍니다. 조치하지 않기로 결정하는 경우, 귀사의 불만 처리 절차(제21조)로 이의를 제기하는 "
            "방법을 알려 주시기 바랍니다.\n\n"
            f"4. 신고자:\n{_contact(f)}\n\n"
            "본 신고 내용이 정확함을 선의로 확인합니다.\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"온라인안전법 신고: 동의 없이 공유된 성적 촬영물 (URL {len(f.urls)}건)", body)


class AustraliaESafety(Regime):
    """Australia's Online Safety Act 2021, Part 6: a complaint to the eSafety Commissioner about an
    intimate image posted without consent (s. 32), made by the person shown or someone they
    authorised, through eSafety's online form.  The Commissioner may then give the platform a
    removal notice with 24 hours to comply (s. 77).  The text gives each answer the form asks for."""

    code = "au_esafety"
    name = _("Australia: image-based abuse report to the eSafety Commissioner (web form)")
    required = ("urls", "explanation", "data_subject_authorised", "notifier", "notifier_email", "signer")
    via_web_form = True
    country = "AU"
    recipients = ("regulator",)
    escalation = _(
        "eSafety may give the platform a removal notice with 24 hours to comply (s. 77), or the person "
        "who posted it (s. 78)."
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            "Report of image-based abuse to the eSafety Commissioner (Online Safety Act 2021, Part 6, "
            "section 32)\n"
            "The answers below follow eSafety's online form; paste each one into its field.\n\n"
            f"1. Who is reporting: {f.signer} of {f.notifier}, authorised by the person shown in the "
            f"images to report for them. The person shown: {_who_en(f)}.\n\n"
            "2. Link with Australia (eSafety can act only with one): tick the one that applies — the "
            "person shown lives in Australia, the person who posted lives in Australia, or the images are "
            "hosted in Australia.\n\n"
            f"3. What happened: intimate images of the person were shared without their consent.{_then(f.explanation)}\n\n"
            f"4. Where (URLs, on {f.platform}):\n{_urls(f)}\n\n"
            "5. Proof: attach the evidence captured of each page (screenshots without the images "
            "themselves where you can). Do not attach images of anyone under 18.\n\n"
            f"6. Reports already made to the platform or to the police: list them, with their dates and "
            "references.\n\n"
            f"7. Contact:\n{_contact(f)}\n\n"
            f"8. Date: {f.date.isoformat()}\n"
            f"{_ref_en(f)}"
        )
        return Rendered(f"eSafety report: image-based abuse ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            "호주 eSafety 위원회에 대한 이미지 기반 성적 학대 신고(온라인안전법 2021 제6편 제32조)\n"
            "아래 답변은 eSafety 온라인 신고 양식의 순서를 따릅니다. 각 답변을 해당 칸에 붙여 넣으십시오.\n\n"
            f"1. 신고자: {f.notifier}의 {f.signer}. 촬영물에 등장하는 당사자로부터 대신 신고하도록 위임받음. "
            f"당사자: {_who_ko(f)}.\n\n"
            "2. 호주와의 관련성(eSafety는 이 중 하나가 있어야 조치할 수 있음): 당사자가 호주에 거주, 게시자가 "
            "호주에 거주, 또는 촬영물이 호주에서 호스팅됨 중 해당하는 것을 고르십시오.\n\n"
            f"3. 피해 내용: 당사자의 성적 촬영물이 동의 없이 공유되었습니다.{_then(f.explanation)}\n\n"
            f"4. 위치({f.platform}의 URL):\n{_urls(f)}\n\n"
            "5. 증거: 각 페이지에 대해 수집해 둔 증거를 첨부하십시오(가능하면 촬영물 자체는 가린 화면). "
            "18세 미만인 사람의 이미지는 첨부하지 마십시오.\n\n"
            "6. 플랫폼이나 경찰에 이미 한 신고: 날짜와 접수 번호와 함께 적으십시오.\n\n"
            f"7. 연락처:\n{_contact(f)}\n\n"
            f"8. 날짜: {f.date.isoformat()}\n"
            f"{_ref_ko(f)}"
        )
        return Rendered(f"eSafety 신고: 이미지 기반 성적 학대 (URL {len(f.urls)}건)", body)


class IndiaItRules(Regime):
    """India's Information Technology (Intermediary Guidelines and Digital Media Ethics Code) Rules,
    2021, rule 3(2)(b): on a complaint by the individual or any person on their behalf, an
    intermediary must remove or disable access within 24 hours to content that exposes the
    individual's private area, shows them in full or partial nudity or in a sexual act, or
    impersonates them, artificially morphed images included.  It goes to the intermediary's
    Grievance Officer (rule 3(2)(a))."""

    code = "in_it_rules"
    name = _("India: complaint under the IT Rules 2021, rule 3(2)(b) (24 hours)")
    required = ("urls", "data_subject_authorised", "notifier", "notifier_email", "signer", "good_faith")
    deadline_hours = 24
    country = "IN"
    recipients = ("platform", "host", "search_engine")
    escalation = _("An appeal to the Grievance Appellate Committee (rule 3A), or a court.")

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To the Grievance Officer of {f.platform},\n\n"
            "This is a complaint under rule 3(2)(b) of the Information Technology (Intermediary "
            "Guidelines and Digital Media Ethics Code) Rules, 2021, made on behalf of the individual "
            "concerned, who has authorised us to make it.\n\n"
            f"1. The content (URLs):\n{_urls(f)}\n\n"
            f"2. The content exposes the private area of {_who_en(f)}, shows them in full or partial "
            "nudity, or depicts them in a sexual act or conduct (artificially morphed images included), "
            f"and was shared without their consent.{_then(f.explanation)}\n\n"
            "3. What we ask: rule 3(2)(b) requires you to remove or disable access to this content within "
            "twenty-four hours of receiving this complaint. Please do so, and confirm what you have done.\n\n"
            f"4. Complainant (on the individual's behalf):\n{_contact(f)}\n\n"
            "We confirm in good faith that this complaint is accurate.\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(
            f"Complaint under IT Rules 3(2)(b): removal within 24 hours ({len(f.urls)} URLs)", body
        )

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 고충처리 담당자(Grievance Officer) 귀하\n\n"
            "본 신고는 인도 정보기술(중개자 지침 및 디지털 미디어 윤리 규정) 규칙 2021 제3조제2항(b)에 따른 "
            "신고로, 당사자의 위임을 받아 당사자를 대신하여 제출합니다.\n\n"
            f"1. 콘텐츠(URL):\n{_urls(f)}\n\n"
            f"2. 위 콘텐츠는 {_who_ko(f)}의 신체 부위를 노출하거나, 전부 또는 일부 나체를 보여 주거나, 성적 "
            "행위를 묘사하는 것(인위적으로 합성된 이미지 포함)으로, 동의 없이 공유되었습니다."
            f"{_then(f.explanation)}\n\n"
            "3. 요청 사항: 동 규칙 제3조제2항(b)에 따라 귀사는 본 신고를 받은 때부터 24시간 이내에 해당 "
            "콘텐츠를 삭제하거나 접근을 차단하여야 합니다. 조치 후 결과를 알려 주시기 바랍니다.\n\n"
            f"4. 신고인(당사자 대리):\n{_contact(f)}\n\n"
            "본 신고 내용이 정확함을 선의로 확인합니다.\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"IT 규칙 제3조제2항(b) 신고: 24시간 내 삭제 (URL {len(f.urls)}건)", body)


# --- personal information ------------------------------------------------------------------------
# A survivor's name, phone number, e-mail, accounts or school, posted next to their pictures or instead.
# These notices describe what is exposed (``personal_information``) rather than repeat it, and say
# that the person it is about authorised the centre (``data_subject_authorised``).


def _then(text: str) -> str:
    """An optional sentence of the officer's, after the fixed wording."""
    return f" {text.strip()}" if text.strip() else ""


def _exposed(facts: NoticeFacts) -> str:
    """What the URLs expose, as the officer described it, ready to end a sentence of ours."""
    return facts.personal_information.strip().rstrip(".。").rstrip()


class GdprErasure(Regime):
    """EU GDPR (Regulation (EU) 2016/679), Art. 17(1)(c) and (d) right to erasure, with Art. 21(1)
    objection, Art. 17(2) and Art. 19 (telling other controllers and recipients) and Art. 12(3)/(4)
    (act without undue delay and within one month; say why when refusing).  The UK GDPR has the same
    Art. 17.  The data subject asks; the centre makes the request for them, with their authorisation."""

    code = "gdpr_erasure"
    name = _("EU/UK GDPR, Art. 17 request for erasure of personal data")
    required = (
        "urls",
        "personal_information",
        "explanation",
        "data_subject_authorised",
        "notifier",
        "notifier_email",
        "signer",
    )
    deadline_hours = 30 * 24  # Art. 12(3): one month from receipt (extendable by two, with reasons)

    country = "EU"
    recipients = ("platform", "host", "search_engine")
    escalation = _("A complaint to the data protection supervisory authority (Art. 77).")

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To the data protection officer of {f.platform},\n\n"
            "This is a request for erasure of personal data under Article 17 of Regulation (EU) 2016/679 "
            "(General Data Protection Regulation), and of the UK GDPR where that applies. We make it for "
            f"the data subject: {_who_en(f)}.\n\n"
            f"1. The personal data: {_exposed(f)}. We describe it here rather than "
            "repeat it.\n\n"
            f"2. Where you publish it (URLs):\n{_urls(f)}\n\n"
            "3. Grounds for erasure: the data subject never agreed to this publication and you have no "
            "lawful basis for it, so the data are unlawfully processed (Article 17(1)(d)). The data "
            "subject also objects to the processing, and nothing overrides that objection "
            f"(Articles 21(1) and 17(1)(c)).{_then(f.explanation)}\n\n"
            f"4. Authority: the data subject has authorised {f.notifier} to make this request for them "
            "and to receive your answer. If you need to confirm who they are, ask us: we will answer in a "
            "way that keeps them safe.\n\n"
            "5. What we ask:\n"
            "  - erase the data at every URL above, and the copies you hold;\n"
            "  - because the data were made public, take reasonable steps to tell other controllers "
            "processing them that their erasure has been requested (Article 17(2)), and tell each "
            "recipient of the data about the erasure (Article 19);\n"
            "  - tell us what you have done without undue delay, and within one month of receiving this "
            "request at the latest (Article 12(3)). If you do not act, tell us why within the same time, "
            "and that the data subject may complain to a supervisory authority and seek a judicial "
            "remedy (Article 12(4)).\n\n"
            f"6. The data subject's representative:\n{_contact(f)}\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n{f.notifier}\n"
        )
        return Rendered(f"GDPR Art. 17 request for erasure of personal data ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 개인정보 보호책임자(DPO) 귀중\n\n"
            "본 요청은 EU 일반개인정보보호규정(GDPR, 규정 2016/679) 제17조(해당하는 경우 영국 GDPR 제17조)에 "
            f"따른 개인정보 삭제 요청입니다. 본 기관은 정보주체를 대리하여 요청합니다. 정보주체: {_who_ko(f)}\n\n"
            f"1. 해당 개인정보: {_exposed(f)}. 이 요청서에는 그 내용을 옮겨 적지 않고 "
            "종류만 밝힙니다.\n\n"
            f"2. 게시 위치(URL):\n{_urls(f)}\n\n"
            "3. 삭제 사유: 정보주체는 이 게시에 동의한 적이 없고 귀사에는 이를 처리할 적법한 근거가 없으므로, "
            "해당 개인정보는 불법적으로 처리되고 있습니다(제17조 제1항 (d)). 정보주체는 또한 그 처리에 "
            f"반대하며, 이 반대에 우선하는 정당한 사유는 없습니다(제21조 제1항, 제17조 제1항 (c)).{_then(f.explanation)}\n\n"
            f"4. 대리 권한: 정보주체는 {f.notifier}에 이 요청을 하고 회신을 받을 권한을 위임하였습니다. "
            "신원 확인이 필요하면 본 기관에 문의해 주십시오. 정보주체의 안전을 해치지 않는 방법으로 "
            "답하겠습니다.\n\n"
            "5. 요청 사항:\n"
            "  - 위 URL 전체의 해당 개인정보와 귀사가 보유한 사본을 삭제하여 주십시오.\n"
            "  - 해당 정보가 공개되었으므로, 이를 처리하는 다른 컨트롤러에게 삭제 요청이 있었음을 알리는 "
            "합리적인 조치를 하고(제17조 제2항), 해당 정보를 제공받은 자 각각에게 삭제 사실을 알려 "
            "주십시오(제19조).\n"
            "  - 부당한 지체 없이, 늦어도 본 요청을 받은 날부터 1개월 이내에 조치 결과를 알려 주십시오"
            "(제12조 제3항). 조치하지 않는 경우에는 같은 기간 안에 그 이유와 함께, 정보주체가 감독기관에 "
            "민원을 제기하고 사법적 구제를 청구할 수 있음을 알려 주십시오(제12조 제4항).\n\n"
            f"6. 정보주체의 대리인:\n{_contact(f)}\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n{f.notifier}\n"
        )
        return Rendered(f"GDPR 제17조 개인정보 삭제 요청 (URL {len(f.urls)}건)", body)


class KoreaPrivacy(Regime):
    """Korea: a request to delete information that infringes privacy, under the Act on Promotion of
    Information and Communications Network Utilization and Information Protection, Art. 44-2 (the
    provider deletes or takes a temporary measure "without delay" and tells both sides at once; a
    temporary measure lasts up to 30 days, Art. 44-2(4)), and a request for erasure of personal
    information by the data subject's representative under the Personal Information Protection Act,
    Art. 36 and Art. 38(1).

    The deadline is the one number these texts set: the Enforcement Decree of the PIPA, Art. 43(3),
    gives a personal information controller 10 days from the request to report what it did.
    Art. 44-2(2)'s "without delay" is stricter but names no time, so 240 hours is the latest the
    platform may answer, not a promise that it may wait that long."""

    code = "kr_privacy"
    name = _("Korea: deletion of personal information (Network Act, Art. 44-2; PIPA, Art. 36)")
    required = (
        "urls",
        "personal_information",
        "explanation",
        "data_subject_authorised",
        "notifier",
        "notifier_email",
        "contact",
        "signer",
    )
    deadline_hours = 10 * 24  # PIPA Enforcement Decree, Art. 43(3)

    country = "KR"
    recipients = ("platform", "host")
    escalation = _(
        "A report to the Personal Information Protection Commission, or the Personal Information Dispute "
        "Mediation Committee."
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To {f.platform},\n\n"
            f"{f.notifier} asks you to delete personal information about {_who_en(f)}, posted on your "
            "service without their consent. We make this request under:\n"
            "  - Article 44-2 of the Act on Promotion of Information and Communications Network "
            "Utilization and Information Protection: the information infringes their privacy. When asked, "
            "you must delete it or take a temporary measure without delay, and tell the applicant and the "
            "person who posted it at once;\n"
            "  - Articles 36 and 38(1) of the Personal Information Protection Act: this is a request for "
            "erasure of personal information made by the data subject's representative. Where you process "
            "this information as a personal information controller, you must tell us the result within "
            "10 days of this request (Enforcement Decree, Article 43(3)).\n\n"
            f"1. The information (URLs):\n{_urls(f)}\n\n"
            f"2. What it exposes: {_exposed(f)}. We describe it rather than repeat "
            "it.\n\n"
            f"3. How it infringes their privacy: {f.explanation.strip()}\n\n"
            "4. Authority: the person this information is about has authorised us to make this request "
            "for them.\n\n"
            "5. Please delete it at once, or at least block access to it while you decide, and tell us "
            "what you have done.\n\n"
            f"6. Requesting institution:\n{_contact(f)}\n\n"
            f"{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(
            f"Deletion request: personal information infringing privacy ({len(f.urls)} URLs)", body
        )

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 귀중\n\n"
            f"{f.notifier}은(는) 귀사 서비스에 동의 없이 게시된 {_who_ko(f)}의 개인정보를 삭제하여 줄 것을 "
            "요청합니다. 본 요청의 근거는 다음과 같습니다.\n"
            "  - 「정보통신망 이용촉진 및 정보보호 등에 관한 법률」 제44조의2: 위 정보는 당사자의 사생활을 "
            "침해합니다. 귀사는 이러한 요청을 받으면 지체 없이 해당 정보를 삭제하거나 임시조치를 하고, 그 "
            "사실을 신청인과 게시자에게 곧바로 알려야 합니다.\n"
            "  - 「개인정보 보호법」 제36조 및 제38조제1항: 본 요청은 정보주체의 대리인이 하는 개인정보 "
            "삭제 요구입니다. 귀사가 개인정보처리자로서 이 정보를 처리하는 경우, 요구를 받은 날부터 10일 "
            "이내에 그 결과를 알려야 합니다(같은 법 시행령 제43조제3항).\n\n"
            f"1. 삭제 요청 정보(URL):\n{_urls(f)}\n\n"
            f"2. 노출된 개인정보: {_exposed(f)}. 이 요청서에는 그 내용을 옮겨 적지 않고 "
            "종류만 밝힙니다.\n\n"
            f"3. 사생활 침해 사실의 소명: {f.explanation.strip()}\n\n"
            "4. 위임: 위 정보의 당사자는 본 기관에 이 요청을 위임하였습니다.\n\n"
            "5. 즉시 삭제하여 주시고, 판단에 시간이 필요하다면 그동안 접근을 차단하여 주십시오. 조치 결과를 "
            "회신하여 주시기 바랍니다.\n\n"
            f"6. 요청 기관:\n{_contact(f)}\n\n"
            f"{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"사생활 침해 개인정보 삭제 요청 (URL {len(f.urls)}건)", body)


class PrivacyPolicy(Regime):
    """A report under the platform's own privacy / doxxing policy (personal information posted
    without consent), the counterpart of :class:`PlatformPolicy` for intimate imagery."""

    code = "privacy_policy"
    name = _("Platform policy report (personal information, doxxing)")
    required = (
        "urls",
        "personal_information",
        "data_subject_authorised",
        "notifier",
        "notifier_email",
        "good_faith",
    )

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"To the trust and safety team of {f.platform},\n\n"
            "We report personal information posted on your service without consent, which your privacy "
            "and harassment policies prohibit.\n\n"
            f"URLs:\n{_urls(f)}\n\n"
            f"What is exposed: {_exposed(f)}. It is about {_who_en(f)}. We describe "
            "it rather than repeat it. Posted like this, it lets strangers find, contact and harass them."
            f"{_then(f.explanation)}\n\n"
            "The person it is about has authorised us to report it for them.\n\n"
            "Please remove it, and keep it from being posted again.\n\n"
            "We confirm in good faith that this report is accurate.\n\n"
            f"Reported by:\n{_contact(f)}\n\n{_ref_en(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"Report: personal information posted without consent ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"{f.platform} 운영정책팀 귀중\n\n"
            "귀사의 개인정보 및 괴롭힘 관련 정책이 금지하는, 동의 없이 게시된 개인정보를 신고합니다.\n\n"
            f"URL:\n{_urls(f)}\n\n"
            f"노출된 정보: {_exposed(f)}. 이 정보의 당사자는 {_who_ko(f)}입니다. 이 "
            "신고에는 그 내용을 옮겨 적지 않고 종류만 밝힙니다. 이렇게 게시된 정보로 낯선 사람이 당사자를 찾아내고 연락하며 괴롭힐 "
            f"수 있습니다.{_then(f.explanation)}\n\n"
            "위 정보의 당사자는 본 기관에 이 신고를 위임하였습니다.\n\n"
            "삭제하여 주시고, 다시 게시되지 않도록 조치하여 주시기 바랍니다.\n\n"
            "본 신고 내용이 정확함을 선의로 확인합니다.\n\n"
            f"신고자:\n{_contact(f)}\n\n{_ref_ko(f)}{f.date.isoformat()}\n{f.signer}\n"
        )
        return Rendered(f"신고: 동의 없이 게시된 개인정보 (URL {len(f.urls)}건)", body)


class SearchPersonalInfo(Regime):
    """A search engine's request form for removing results that show personal information (contact
    details, doxxing), such as Google's "Remove personal information from Google Search".  It is
    made through the web form, not by e-mail: the text gives the officer each answer the form asks
    for, in the form's order, to paste field by field.  No law sets a time."""

    code = "search_pi_removal"
    name = _("Search engine: removal of results with personal information (web form)")
    required = (
        "urls",
        "search_result_urls",
        "search_queries",
        "personal_information",
        "data_subject_authorised",
        "notifier",
        "notifier_email",
        "signer",
    )
    via_web_form = True

    recipients = ("search_engine",)

    def _en(self, f: NoticeFacts) -> Rendered:
        body = (
            f"Removal of search results with personal information: {f.platform}\n"
            "The answers below follow the order of the search engine's removal form; paste each one into "
            "its field.\n\n"
            f"1. The personal information shown: {_exposed(f)}\n\n"
            f"2. Who it is about: {_who_en(f)}\n"
            "   Who is asking: an authorised representative, for them.\n"
            f"   Our authority: {f.notifier} supports the person this information is about, who has "
            "authorised us to ask for its removal for them.\n\n"
            "3. Your details (the representative):\n"
            f"   Full name: {f.signer}\n"
            f"   Organisation: {f.notifier}\n"
            f"   E-mail: {f.notifier_email}\n\n"
            f"4. URLs of the pages with the information:\n{_urls(f)}\n\n"
            f"5. URLs of the search results pages that show them:\n{_numbered(f.search_result_urls)}\n\n"
            f"6. Search terms that bring them up:\n{_numbered(f.search_queries)}\n\n"
            "7. Screenshots: attach the evidence captured of each page, where you have it.\n\n"
            "8. Additional information: this information was posted without the consent of the person it "
            f"is about, and exposes them to unwanted contact and harassment.{_then(f.explanation)}\n\n"
            f"9. Signature: {f.signer}, for {f.notifier}\n"
            f"   Date: {f.date.isoformat()}\n"
            f"{_ref_en(f)}"
        )
        return Rendered(f"Search results removal: personal information ({len(f.urls)} URLs)", body)

    def _ko(self, f: NoticeFacts) -> Rendered:
        body = (
            f"개인정보가 표시되는 검색결과 삭제 요청: {f.platform}\n"
            "아래 답변은 검색엔진 삭제 요청 양식의 순서를 따릅니다. 각 답변을 해당 칸에 붙여 넣으십시오.\n\n"
            f"1. 표시되는 개인정보: {_exposed(f)}\n\n"
            f"2. 정보의 당사자: {_who_ko(f)}\n"
            "   요청자: 당사자를 대리할 권한을 받은 대리인\n"
            f"   대리 권한: {f.notifier}은(는) 위 정보의 당사자를 지원하고 있으며, 당사자는 본 기관에 삭제 "
            "요청을 위임하였습니다.\n\n"
            "3. 요청자(대리인) 정보:\n"
            f"   성명: {f.signer}\n"
            f"   기관: {f.notifier}\n"
            f"   이메일: {f.notifier_email}\n\n"
            f"4. 개인정보가 게시된 페이지의 URL:\n{_urls(f)}\n\n"
            f"5. 해당 페이지가 표시되는 검색결과 페이지의 URL:\n{_numbered(f.search_result_urls)}\n\n"
            f"6. 해당 검색결과가 나오는 검색어:\n{_numbered(f.search_queries)}\n\n"
            "7. 스크린샷: 각 페이지에 대해 수집해 둔 증거 캡처가 있으면 첨부하십시오.\n\n"
            "8. 추가 정보: 이 정보는 당사자의 동의 없이 게시되었으며, 당사자가 원치 않는 연락과 괴롭힘에 "
            f"노출되게 합니다.{_then(f.explanation)}\n\n"
            f"9. 서명: {f.signer}, {f.notifier}\n"
            f"   날짜: {f.date.isoformat()}\n"
            f"{_ref_ko(f)}"
        )
        return Rendered(f"검색결과 삭제 요청: 개인정보 (URL {len(f.urls)}건)", body)


_ALL: tuple[Regime, ...] = (
    DsaArticle16(),
    TakeItDown(),
    Dmca512(),
    KoreaDeletion(),
    PlatformPolicy(),
    UkOnlineSafety(),
    AustraliaESafety(),
    IndiaItRules(),
    GdprErasure(),
    KoreaPrivacy(),
    PrivacyPolicy(),
    SearchPersonalInfo(),
)
REGIMES: dict[str, Regime] = {r.code: r for r in _ALL}
if len(REGIMES) != len(_ALL):  # a notice records its regime by code: two with one code would be confused
    raise ImportError("two legal regimes share a code")


def regime(code: str) -> Regime:
    try:
        return REGIMES[code]
    except KeyError:
        raise ValueError(f"unknown legal regime {code!r}") from None


def choices() -> list[tuple[str, Promise]]:
    return [(r.code, r.name) for r in REGIMES.values()]


def describe(r: Regime) -> dict[str, object]:
    """What a regime asks and promises, in the active language: ``GET /api/v1/regimes``, ``haven regimes``."""
    return {
        "code": r.code,
        "name": str(r.name),
        "country": r.country,
        "recipients": list(r.recipients),
        "deadline_hours": r.deadline_hours,
        "via_web_form": r.via_web_form,
        "languages": list(LANGUAGES),
        "required": [{"element": e, "label": str(ELEMENTS[e][0])} for e in r.required],
        "escalation": str(r.escalation),
    }
