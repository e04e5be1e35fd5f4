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
}


def _has(facts: NoticeFacts, element: str) -> bool:
    if element == "contact":
        return bool(facts.notifier_address.strip() or facts.notifier_phone.strip())
    value = getattr(facts, ELEMENTS[element][1])
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value)


def _urls(facts: NoticeFacts) -> str:
    return "\n".join(f"  {n}. {url}" for n, url in enumerate(facts.urls, 1))


def _contact(facts: NoticeFacts) -> str:
    lines = [facts.notifier, facts.notifier_email]
    lines += [x for x in (facts.notifier_address, facts.notifier_phone) if x.strip()]
    return "\n".join(f"  {x}" for x in lines)


class Regime:
    code: ClassVar[str]
    name: ClassVar[Promise]
    required: ClassVar[tuple[str, ...]]
    deadline_hours: ClassVar[int | None] = None  # a duty the law sets; None: the platform's own time

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


REGIMES: dict[str, Regime] = {
    r.code: r for r in (DsaArticle16(), TakeItDown(), Dmca512(), KoreaDeletion(), PlatformPolicy())
}


def regime(code: str) -> Regime:
    try:
        return REGIMES[code]
    except KeyError:
        raise ValueError(f"unknown legal regime {code!r}") from None


def choices() -> list[tuple[str, Promise]]:
    return [(r.code, r.name) for r in REGIMES.values()]
